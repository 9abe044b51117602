/** The authenticated caller, as set on `request.user` by JwtAuthGuard and on sockets by the handshake. */
export interface AuthUser {
  id: string;
  email: string;
}
