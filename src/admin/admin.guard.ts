import {
  applyDecorators,
  CanActivate,
  ExecutionContext,
  Injectable,
  UseGuards,
} from '@nestjs/common';
import { ApiErrorResponse, ForbiddenError } from '@app/common';
import type { AuthUser } from '../auth/auth-user';
import { BearerAuth } from '../auth/decorators/bearer-auth.decorator';

/**
 * Lets only admins through, after JwtAuthGuard set `request.user` (whose role is read from the
 * database on every request). Personal API keys never pass: JwtAuthGuard already refuses them on
 * routes without an API-key scope, and this guard refuses them again.
 */
@Injectable()
export class AdminGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const user = context.switchToHttp().getRequest<{ user?: AuthUser }>().user;
    if (user?.apiKey) {
      throw new ForbiddenError('API keys cannot be used here; sign in with a password instead');
    }
    if (user?.role !== 'admin') throw new ForbiddenError('Admin role required');
    return true;
  }
}

/** Routes for admins only: an access token of an active admin; anyone else 403, API keys too. */
export function AdminOnly(): ClassDecorator & MethodDecorator {
  return applyDecorators(
    BearerAuth(),
    UseGuards(AdminGuard),
    ApiErrorResponse(
      403,
      'Not an admin, the account is disabled, or the request used an API key (never accepted here)',
      { detail: 'Admin role required' },
    ),
  );
}
