import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { JwtService } from '@nestjs/jwt';
import { InjectRepository } from '@nestjs/typeorm';
import { TokenExpiredError } from 'jsonwebtoken';
import { Repository } from 'typeorm';
import { AppConfig } from '@app/config';
import { ForbiddenError, UnauthorizedError } from '@app/common';
import { User, type UserRole } from '../users/entities/user.entity';
import { ActiveUserCache } from './active-user-cache';
import type { AuthUser } from './auth-user';
import { driverSql } from '../database/driver-sql';

/** Claims of our access tokens (HS256 JWT). */
export interface AccessTokenClaims {
  sub: string;
  iat: number;
  exp: number;
  iss: string;
  aud: string;
  jti: string;
}

/** A token checked once: the user behind it and its claims (sockets keep `exp`). */
export interface VerifiedAccessToken {
  user: AuthUser;
  claims: AccessTokenClaims;
}

export interface IssuedAccessToken {
  accessToken: string;
  /** Lifetime in seconds, as sent in `expires_in`. */
  expiresIn: number;
}

/**
 * Issues and checks access tokens. `authenticate` (and `verify`, its user only) is the one entry
 * point for every transport (HTTP guard, Socket.IO and plain WebSocket handshakes): it checks the
 * token and that the account still exists and is active.
 */
@Injectable()
export class AccessTokenService {
  /** The user lookup every authenticated request runs, in the driver's placeholder style. */
  private readonly userByIdSql: string;
  /**
   * Claims already verified for a request (the rate limiter reads the token before the auth
   * guard does): one signature check per request instead of two. Gone with the request.
   */
  private readonly verifiedByRequest = new WeakMap<
    object,
    { token: string; claims: AccessTokenClaims }
  >();

  constructor(
    private readonly jwt: JwtService,
    private readonly config: AppConfig,
    @InjectRepository(User) private readonly users: Repository<User>,
    private readonly activeUsers: ActiveUserCache,
  ) {
    this.userByIdSql = driverSql(
      users.manager.connection,
      'SELECT id, email, role, is_active FROM users WHERE id = ?',
    );
  }

  async issue(userId: string): Promise<IssuedAccessToken> {
    const accessToken = await this.jwt.signAsync({ sub: userId }, { jwtid: randomUUID() });
    return { accessToken, expiresIn: this.config.security.accessTokenTtlSeconds };
  }

  /**
   * Checks signature (HS256 only), expiry, issuer and audience, without touching the database.
   * Throws UnauthorizedError for anything else.
   */
  async verifyClaims(token: string): Promise<AccessTokenClaims> {
    let claims: Partial<AccessTokenClaims>;
    try {
      claims = await this.jwt.verifyAsync<Partial<AccessTokenClaims>>(token);
    } catch (error) {
      if (error instanceof TokenExpiredError) {
        throw new UnauthorizedError('Access token has expired');
      }
      throw new UnauthorizedError('Invalid access token');
    }
    if (typeof claims.sub !== 'string' || !claims.sub || typeof claims.jti !== 'string') {
      throw new UnauthorizedError('Invalid access token');
    }
    return claims as AccessTokenClaims;
  }

  /**
   * `verifyClaims` once per HTTP request: the claims of `token` verified earlier for the same
   * `request` are reused.
   */
  async verifyClaimsOf(request: object, token: string): Promise<AccessTokenClaims> {
    const known = this.verifiedByRequest.get(request);
    if (known?.token === token) return known.claims;
    const claims = await this.verifyClaims(token);
    this.verifiedByRequest.set(request, { token, claims });
    return claims;
  }

  /** The user behind a token; see `authenticate`. `request`: see `verifyClaimsOf`. */
  async verify(token: string, request?: object): Promise<AuthUser> {
    return (await this.authenticate(token, request)).user;
  }

  /**
   * The user behind a token and its claims, from one verification. UnauthorizedError for a bad
   * token or a deleted account, ForbiddenError for a deactivated one. The account comes from
   * ActiveUserCache when it is open (PostgreSQL), else from the database.
   */
  async authenticate(token: string, request?: object): Promise<VerifiedAccessToken> {
    const claims = request
      ? await this.verifyClaimsOf(request, token)
      : await this.verifyClaims(token);
    const known = this.activeUsers.get(claims.sub);
    if (known) return { user: known, claims };
    const stamp = this.activeUsers.stamp();
    // Otherwise a plain indexed SELECT of the columns it needs, without building and hydrating a
    // TypeORM query (~0.15 ms of CPU each, bench/RESULTS.md).
    const rows = await this.users.query<
      { id: string; email: string; role: UserRole; is_active: unknown }[]
    >(this.userByIdSql, [claims.sub]);
    const row = rows[0];
    if (!row) throw new UnauthorizedError('Invalid access token');
    // SQLite stores booleans as 0/1, Postgres returns true/false.
    if (!row.is_active) throw new ForbiddenError('Account is disabled');
    const user: AuthUser = { id: row.id, email: row.email, role: row.role };
    this.activeUsers.remember(stamp, user);
    return { user, claims };
  }
}
