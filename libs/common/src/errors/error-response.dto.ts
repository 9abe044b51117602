import { ApiProperty, ApiPropertyOptional, ApiResponse } from '@nestjs/swagger';
import type { ErrorBody } from './error-body';

class FieldErrorDto {
  @ApiProperty({ example: 'email' })
  field: string;

  @ApiProperty({ example: 'email must be a valid e-mail address' })
  message: string;
}

/** The API's one error shape, for Swagger. */
export class ErrorResponseDto {
  @ApiProperty({ example: 'Human-readable reason' })
  detail: string;

  @ApiPropertyOptional({ type: [FieldErrorDto], description: 'Only on validation errors (400)' })
  errors?: FieldErrorDto[];
}

/** What each error status typically says; Swagger UI shows it as the example body. */
const EXAMPLE_BODIES: Record<number, ErrorBody> = {
  400: {
    detail: 'email must be a valid e-mail address',
    errors: [{ field: 'email', message: 'email must be a valid e-mail address' }],
  },
  401: { detail: 'Not authenticated' },
  403: { detail: 'Account is disabled' },
  404: { detail: 'Not found' },
  409: { detail: 'Conflict' },
  413: { detail: 'Request body too large' },
  429: { detail: 'Too many requests; retry in 12 seconds' },
  502: { detail: 'The AI provider returned an error; please try again' },
  503: { detail: 'The AI provider is temporarily unavailable; please try again later' },
  504: { detail: 'The AI provider did not answer in time' },
};

/**
 * Documents an error response: the `{detail}` body with an example of its own status (a 401 or a
 * 429 must not show a validation error), or the given one.
 */
export function ApiErrorResponse(
  status: number,
  description: string,
  example: ErrorBody = EXAMPLE_BODIES[status] ?? { detail: description },
): MethodDecorator & ClassDecorator {
  return ApiResponse({ status, description, type: ErrorResponseDto, example });
}

/** Documents a 400 whose example is one field's validation error (`detail` and `errors` agree). */
export function ApiFieldErrorResponse(
  description: string,
  field: string,
  message: string,
): MethodDecorator & ClassDecorator {
  return ApiErrorResponse(400, description, { detail: message, errors: [{ field, message }] });
}
