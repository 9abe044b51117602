import { applyDecorators } from '@nestjs/common';
import { IsOptional, IsString } from 'class-validator';
import { HasCodePointLength, IsWellFormedText } from '@app/common';

/** An optional query text of `min` to `max` characters, with one message per rule broken. */
export function OptionalText(field: string, min: number, max: number): PropertyDecorator {
  return applyDecorators(
    IsOptional(),
    IsString({ message: `${field} must be a string` }),
    HasCodePointLength(min, max, {
      message:
        min === 0
          ? `${field} must be at most ${max} characters`
          : `${field} must be ${min} to ${max} characters`,
    }),
    IsWellFormedText(),
  );
}
