import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request, Response } from 'express';
import { ForbiddenError, UnauthorizedError } from '@app/common';
import { ApiKeyAuthenticator } from '../../api-keys/api-key-authenticator';
import { isApiKeyToken } from '../../api-keys/api-key-hasher';
import { API_KEY_SCOPE_METADATA, type ApiKeyScopeName } from '../../api-keys/api-key-scopes';
import { AccessTokenService } from '../access-token.service';
import type { AuthUser } from '../auth-user';
import { extractBearerToken } from '../bearer-token';

/**
 * Requires `Authorization: Bearer <access token>` — or a personal API key (`sk-cb-…`) on routes
 * marked with ApiKeyScope, when the key has that scope — and sets `request.user` (AuthUser).
 * A key elsewhere (key management, the account) or without the scope → 403.
 */
@Injectable()
export class JwtAuthGuard implements CanActivate {
  constructor(
    private readonly tokens: AccessTokenService,
    private readonly apiKeys: ApiKeyAuthenticator,
    private readonly reflector: Reflector,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const http = context.switchToHttp();
    const request = http.getRequest<Request & { user?: AuthUser }>();
    const token = extractBearerToken(request.headers.authorization);
    try {
      if (!token) throw new UnauthorizedError('Not authenticated');
      request.user = isApiKeyToken(token)
        ? await this.authenticateKey(context, token)
        : await this.tokens.verify(token, request);
      return true;
    } catch (error) {
      if (error instanceof UnauthorizedError) {
        http.getResponse<Response>().setHeader('WWW-Authenticate', 'Bearer');
      }
      throw error;
    }
  }

  private async authenticateKey(context: ExecutionContext, token: string): Promise<AuthUser> {
    const scope = this.reflector.getAllAndOverride<ApiKeyScopeName | undefined>(
      API_KEY_SCOPE_METADATA,
      [context.getHandler(), context.getClass()],
    );
    const key = await this.apiKeys.authenticate(token);
    if (!scope) {
      throw new ForbiddenError('API keys cannot be used here; sign in with a password instead');
    }
    if (!key.scopes.includes(scope)) {
      throw new ForbiddenError(`This API key does not have the "${scope}" scope`);
    }
    return key.user;
  }
}
