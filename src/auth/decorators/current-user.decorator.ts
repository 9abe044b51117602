import { createParamDecorator, ExecutionContext } from '@nestjs/common';
import { UnauthorizedError } from '@app/common';
import type { AuthUser } from '../auth-user';

/** The AuthUser set by JwtAuthGuard; use only on routes guarded by it. */
export const CurrentUser = createParamDecorator((_data: unknown, context: ExecutionContext) => {
  const user = context.switchToHttp().getRequest<{ user?: AuthUser }>().user;
  if (!user) throw new UnauthorizedError('Not authenticated');
  return user;
});
