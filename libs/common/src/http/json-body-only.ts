import {
  applyDecorators,
  CanActivate,
  ExecutionContext,
  Injectable,
  UseGuards,
} from '@nestjs/common';
import type { Request } from 'express';
import { UnsupportedMediaTypeError } from '../errors/domain-errors';
import { ApiErrorResponse } from '../errors/error-response.dto';

/** The 415 detail of a body that is not JSON on a JSON-only route. */
export const JSON_ONLY_DETAIL = 'Content-Type must be application/json';

/**
 * Refuses request bodies that are not JSON. The app parses forms too (for the OAuth2 login), so
 * without this a form posted to a JSON-only route would be validated as if it were JSON.
 */
@Injectable()
export class JsonBodyOnlyGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const request = context.switchToHttp().getRequest<Request>();
    // No body, or an empty one, is left to validation (it names the missing fields); `is`
    // answers false only for a body of another type.
    const empty = request.headers['content-length'] === '0';
    if (!empty && request.is('application/json') === false) {
      throw new UnsupportedMediaTypeError(JSON_ONLY_DETAIL);
    }
    return true;
  }
}

/** A route whose body must be JSON: 415 `{detail}` otherwise, documented in Swagger. */
export function JsonBodyOnly(): MethodDecorator & ClassDecorator {
  return applyDecorators(
    UseGuards(JsonBodyOnlyGuard),
    ApiErrorResponse(415, 'The body is not JSON', { detail: JSON_ONLY_DETAIL }),
  );
}
