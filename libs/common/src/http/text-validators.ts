import { ValidateBy, type ValidationOptions } from 'class-validator';

/**
 * Text limits count Unicode code points, everywhere (DTO rules, CHAT__MAX_MESSAGE_CHARS, derived
 * titles): an emoji is one character, as JSON Schema's minLength/maxLength count it. (JavaScript's
 * `.length` counts UTF-16 units; class-validator's Length also discounts variation selectors.)
 */
export function codePointLength(text: string): number {
  let length = text.length;
  for (let i = 0; i < text.length - 1; i++) {
    const unit = text.charCodeAt(i);
    if (unit >= 0xd800 && unit <= 0xdbff) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        length--;
        i++;
      }
    }
  }
  return length;
}

/** True when `text` is a string of `min`..`max` code points. */
export function hasCodePointLength(text: unknown, min: number, max: number): text is string {
  if (typeof text !== 'string') return false;
  const length = codePointLength(text);
  return length >= min && length <= max;
}

/** A UTF-16 surrogate not paired with its other half: JSON `"\ud800"` parses to one. */
const LONE_SURROGATE = /\p{Surrogate}/u;

/**
 * True when `text` can be stored and sent unchanged: no lone surrogate (UTF-8 encoders and
 * databases replace it with U+FFFD) and no NUL (PostgreSQL text refuses it; C libraries such as
 * bcrypt stop at it).
 */
export function isWellFormedText(text: string): boolean {
  return !text.includes('\u0000') && !LONE_SURROGATE.test(text);
}

/** Refuses strings that isWellFormedText refuses. Non-strings pass: the type is another rule's. */
export function IsWellFormedText(options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'isWellFormedText',
      validator: {
        validate: (value: unknown) => typeof value !== 'string' || isWellFormedText(value),
        defaultMessage: (args) =>
          typeof args?.value === 'string' && args.value.includes('\u0000')
            ? `${args.property} must not contain NUL characters`
            : `${args?.property} must be valid Unicode text (it contains an unpaired surrogate)`,
      },
    },
    options,
  );
}

/**
 * A string of `min`..`max` code points. The default messages are class-validator's `Length`
 * ones, so clients see the same text as before the count changed.
 */
export function HasCodePointLength(
  min: number,
  max: number,
  options?: ValidationOptions,
): PropertyDecorator {
  return ValidateBy(
    {
      name: 'hasCodePointLength',
      constraints: [min, max],
      validator: {
        validate: (value: unknown) => hasCodePointLength(value, min, max),
        defaultMessage: (args) => {
          const value: unknown = args?.value;
          if (min > 0 && (typeof value !== 'string' || codePointLength(value) < min)) {
            return `${args?.property} must be longer than or equal to ${min} characters`;
          }
          return `${args?.property} must be shorter than or equal to ${max} characters`;
        },
      },
    },
    options,
  );
}
