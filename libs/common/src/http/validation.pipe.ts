import { ValidationError, ValidationPipe } from '@nestjs/common';
import { InvalidInputError } from '../errors/domain-errors';
import type { FieldError } from '../errors/error-body';

/** Flattens class-validator errors into `[{field, message}]`, with dotted paths for nested fields. */
export function flattenValidationErrors(errors: ValidationError[], parent = ''): FieldError[] {
  return errors.flatMap((error) => {
    const field = parent ? `${parent}.${error.property}` : error.property;
    const own = Object.values(error.constraints ?? {}).map((message) => ({
      field,
      message:
        error.constraints?.whitelistValidation === message
          ? `${field} is not an allowed field`
          : message,
    }));
    return [...own, ...flattenValidationErrors(error.children ?? [], field)];
  });
}

/** Throws the domain validation error for a list of class-validator errors. */
export function toInvalidInputError(errors: ValidationError[]): InvalidInputError {
  const fieldErrors = flattenValidationErrors(errors);
  const detail = fieldErrors.length
    ? fieldErrors.map((e) => e.message).join('; ')
    : 'Validation failed';
  return new InvalidInputError(detail, fieldErrors);
}

/** Whitelist + reject unknown fields + transform; no implicit conversion ("false" must not become true). */
export function createValidationPipe(): ValidationPipe {
  return new ValidationPipe({
    whitelist: true,
    forbidNonWhitelisted: true,
    transform: true,
    transformOptions: { enableImplicitConversion: false },
    validationError: { target: false, value: false },
    exceptionFactory: toInvalidInputError,
  });
}
