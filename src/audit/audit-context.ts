import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import type { Request } from 'express';
import { clientIp } from '../throttling/client-ip';
import type { AuthUser } from '../auth/auth-user';

/** Who is acting and from where, as the audit log records it. */
export interface AuditContext {
  /** null: the system, or a client that has not signed in. */
  actor: { id: string; email: string } | null;
  ip: string | null;
}

/** The system itself acting (start-up tasks). */
export const SYSTEM_AUDIT_CONTEXT: AuditContext = { actor: null, ip: null };

/** The AuditContext of an HTTP request: `request.user` (when signed in) and the client address. */
export function auditContextOf(request: Request & { user?: AuthUser }): AuditContext {
  const user = request.user;
  return { actor: user ? { id: user.id, email: user.email } : null, ip: clientIp(request) };
}

/** Route parameter: the AuditContext of the current request. */
export const RequestAuditContext = createParamDecorator(
  (_data: unknown, context: ExecutionContext): AuditContext =>
    auditContextOf(context.switchToHttp().getRequest<Request & { user?: AuthUser }>()),
);
