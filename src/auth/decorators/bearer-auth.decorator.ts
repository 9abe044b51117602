import { applyDecorators, UseGuards } from '@nestjs/common';
import { ApiBearerAuth } from '@nestjs/swagger';
import { ApiErrorResponse } from '@app/common';
import { JwtAuthGuard } from '../guards/jwt-auth.guard';

/**
 * Routes for signed-in users: JwtAuthGuard, and in Swagger the bearer scheme and its 401 answer.
 * Use on a controller whose every route needs an access token.
 */
export function BearerAuth(): ClassDecorator & MethodDecorator {
  return applyDecorators(
    ApiBearerAuth('bearer'),
    ApiErrorResponse(401, 'Missing, invalid or expired token'),
    UseGuards(JwtAuthGuard),
  );
}
