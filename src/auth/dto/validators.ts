import { Transform } from 'class-transformer';
import { isEmail, ValidateBy, type ValidationOptions } from 'class-validator';
import { hasCodePointLength } from '@app/common';

/** Longest e-mail address SMTP allows (RFC 5321 path limit). */
export const MAX_EMAIL_LENGTH = 254;

/** Trims and lower-cases string input, so e-mails are compared and stored in one form. */
export const NormalizeEmail = () =>
  Transform(({ value }: { value: unknown }) =>
    typeof value === 'string' ? value.trim().toLowerCase() : value,
  );

/** A syntactically valid e-mail address of at most 254 characters; one clear message either way. */
export function IsEmailAddress(options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'isEmailAddress',
      validator: {
        validate: (value: unknown) =>
          typeof value === 'string' && value.length <= MAX_EMAIL_LENGTH && isEmail(value),
        defaultMessage: (args) =>
          args?.value === undefined || args?.value === null
            ? `${args?.property} is required`
            : `${args?.property} must be a valid e-mail address`,
      },
    },
    options,
  );
}

/** A string of min..max characters (code points), with "is required" when absent. */
export function IsStringOfLength(
  min: number,
  max: number,
  options?: ValidationOptions,
): PropertyDecorator {
  return ValidateBy(
    {
      name: 'isStringOfLength',
      validator: {
        validate: (value: unknown) => hasCodePointLength(value, min, max),
        defaultMessage: (args) => {
          if (args?.value === undefined || args?.value === null) {
            return `${args?.property} is required`;
          }
          if (typeof args.value !== 'string') return `${args.property} must be a string`;
          return min === max
            ? `${args.property} must be ${min} characters long`
            : `${args.property} must be between ${min} and ${max} characters long`;
        },
      },
    },
    options,
  );
}
