import { ValidateBy, type ValidationOptions } from 'class-validator';

/**
 * A finite number (a whole one with `integer`) from `min` to `max`, with one message naming the
 * first rule broken, instead of class-validator's type, minimum and maximum messages all at once.
 */
export function IsNumberInRange(
  min: number,
  max: number,
  { integer = false }: { integer?: boolean } = {},
  options?: ValidationOptions,
): PropertyDecorator {
  const isNumber = (value: unknown): value is number =>
    typeof value === 'number' && (integer ? Number.isInteger(value) : Number.isFinite(value));
  return ValidateBy(
    {
      name: integer ? 'isIntegerInRange' : 'isNumberInRange',
      constraints: [min, max],
      validator: {
        validate: (value: unknown) => isNumber(value) && value >= min && value <= max,
        defaultMessage: (args) => {
          const value: unknown = args?.value;
          if (!isNumber(value)) {
            return `${args?.property} must be ${integer ? 'a whole number' : 'a number'}`;
          }
          return value < min
            ? `${args?.property} must be at least ${min}`
            : `${args?.property} must not be greater than ${max}`;
        },
      },
    },
    options,
  );
}
