import type { UserRole } from '../users/entities/user.entity';

/** The authenticated caller, as set on `request.user` by JwtAuthGuard and on sockets by the handshake. */
export interface AuthUser {
  id: string;
  email: string;
  /** Read with the account on every request, so a granted or revoked role applies at once. */
  role: UserRole;
  /** Set when the caller used a personal API key rather than an access token. */
  apiKeyId?: string;
}
