import type { IncomingMessage } from 'node:http';
import { Injectable } from '@nestjs/common';
import type { Socket } from 'socket.io';
import { ForbiddenError, UnauthorizedError } from '@app/common';
import { ApiKeyAuthenticator } from '../api-keys/api-key-authenticator';
import { isApiKeyToken } from '../api-keys/api-key-hasher';
import { AccessTokenService } from '../auth/access-token.service';
import type { AuthUser } from '../auth/auth-user';
import { extractBearerToken } from '../auth/bearer-token';

/** Who a socket connection belongs to, from its handshake. */
export interface SocketIdentity {
  user: AuthUser;
  /** Token expiry (epoch seconds): the transports refuse later events with 401. */
  expiresAt: number;
  /**
   * Checks the credential and its account again (a revoked key → UnauthorizedError, a disabled
   * or deleted account → ForbiddenError/UnauthorizedError), so the transports refuse the events
   * of a connection whose key was revoked or whose account was disabled after it opened.
   */
  revalidate: () => Promise<void>;
}

/**
 * Authenticates the handshakes of both socket transports (guards do not run on them): finds the
 * access token (or personal API key with the `chat` scope) where each transport's clients send it
 * and verifies it once, user included.
 * Throws what AccessTokenService throws (UnauthorizedError, ForbiddenError, a database outage).
 */
@Injectable()
export class SocketAuthenticator {
  constructor(
    private readonly tokens: AccessTokenService,
    private readonly apiKeys: ApiKeyAuthenticator,
  ) {}

  /**
   * Socket.IO: `auth.token` (a `Bearer ` prefix is tolerated), else an `Authorization: Bearer`
   * header, else the `token` query parameter.
   */
  async socketIo(
    handshake: Pick<Socket['handshake'], 'auth' | 'headers' | 'query'>,
  ): Promise<SocketIdentity> {
    const { auth, headers, query } = handshake;
    const fromAuth = typeof auth?.token === 'string' ? auth.token.replace(/^Bearer\s+/i, '') : '';
    const fromQuery = typeof query.token === 'string' ? query.token : '';
    return this.identify(fromAuth || extractBearerToken(headers.authorization) || fromQuery);
  }

  /** Plain WebSocket upgrade: the `token` query parameter, else an `Authorization: Bearer` header. */
  async webSocket(request: IncomingMessage, url: URL): Promise<SocketIdentity> {
    return this.identify(
      url.searchParams.get('token') || extractBearerToken(request.headers.authorization),
    );
  }

  private async identify(token: string | undefined): Promise<SocketIdentity> {
    if (!token) throw new UnauthorizedError('Not authenticated');
    if (isApiKeyToken(token)) return this.identifyKey(token);
    const { user, claims } = await this.tokens.authenticate(token);
    return {
      user,
      expiresAt: claims.exp,
      revalidate: async () => {
        await this.tokens.authenticate(token);
      },
    };
  }

  /** A personal API key with the `chat` scope; the connection ends when the key expires. */
  private async identifyKey(token: string): Promise<SocketIdentity> {
    const check = async () => {
      const key = await this.apiKeys.authenticate(token);
      if (!key.scopes.includes('chat')) {
        throw new ForbiddenError('This API key does not have the "chat" scope');
      }
      return key;
    };
    const key = await check();
    return {
      user: key.user,
      expiresAt: key.expiresAt ? key.expiresAt.getTime() / 1000 : Number.POSITIVE_INFINITY,
      revalidate: async () => {
        await check();
      },
    };
  }
}
