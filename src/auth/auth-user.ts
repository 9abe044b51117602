import type { UserRole } from '../users/entities/user.entity';

/** A personal API key as the chat quotas see it: its id and its own daily token quota. */
export interface ApiKeyQuota {
  id: string;
  /** The key's own `tokens_per_day`; null = the deployment default (QUOTA__API_KEY_TOKENS_PER_DAY). */
  tokensPerDay: number | null;
}

/** The authenticated caller, as set on `request.user` by JwtAuthGuard and on sockets by the handshake. */
export interface AuthUser {
  id: string;
  email: string;
  /**
   * Read with the account on every request (or from ActiveUserCache, which forgets an account at
   * each change), so a granted or revoked role applies at once.
   */
  role: UserRole;
  /** Set when the caller used a personal API key rather than an access token. */
  apiKey?: ApiKeyQuota;
}
