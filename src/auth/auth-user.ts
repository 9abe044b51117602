/** The authenticated caller, as set on `request.user` by JwtAuthGuard and on sockets by the handshake. */
export interface AuthUser {
  id: string;
  email: string;
  /** Set when the caller used a personal API key rather than an access token. */
  apiKeyId?: string;
}
