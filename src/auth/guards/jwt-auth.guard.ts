import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import type { Request, Response } from 'express';
import { UnauthorizedError } from '@app/common';
import { AccessTokenService } from '../access-token.service';
import type { AuthUser } from '../auth-user';
import { extractBearerToken } from '../bearer-token';

/** Requires `Authorization: Bearer <access token>` and sets `request.user` (AuthUser). */
@Injectable()
export class JwtAuthGuard implements CanActivate {
  constructor(private readonly tokens: AccessTokenService) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const http = context.switchToHttp();
    const request = http.getRequest<Request & { user?: AuthUser }>();
    const token = extractBearerToken(request.headers.authorization);
    try {
      if (!token) throw new UnauthorizedError('Not authenticated');
      request.user = await this.tokens.verify(token);
      return true;
    } catch (error) {
      if (error instanceof UnauthorizedError) {
        http.getResponse<Response>().setHeader('WWW-Authenticate', 'Bearer');
      }
      throw error;
    }
  }
}
