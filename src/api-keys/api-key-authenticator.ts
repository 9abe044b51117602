import { Injectable, Logger } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { ForbiddenError, UnauthorizedError } from '@app/common';
import type { AuthUser } from '../auth/auth-user';
import type { UserRole } from '../users/entities/user.entity';
import { ApiKeyHasher } from './api-key-hasher';
import type { ApiKeyScopeName } from './api-key-scopes';
import { ApiKey } from './entities/api-key.entity';
import { driverSql } from '../database/driver-sql';

/** `last_used_at` is written at most this often per key, not on every request. */
const LAST_USED_RESOLUTION_MS = 60_000;
/** Prefixes whose owner is remembered for the rate limiter (oldest forgotten first). */
const OWNER_CACHE_SIZE = 10_000;

/** Who a key claims to belong to and its own rate limit, for the rate limiter. */
export interface ApiKeyOwner {
  userId: string;
  prefix: string;
  rateLimitPerMinute: number | null;
}

/** The columns the per-request lookup reads. */
interface KeyRow {
  id: string;
  key_hash: string;
  tokens_per_day: number | null;
  scopes: string;
  expires_at: Date | string | null;
  last_used_at: Date | string | null;
  user_id: string;
  email: string;
  role: UserRole;
  is_active: unknown;
}

/**
 * A timestamp as the raw drivers return it: a Date from Postgres, TypeORM's UTC
 * `YYYY-MM-DD HH:MM:SS.SSS` text from SQLite.
 */
function toDate(value: Date | string | null): Date | null {
  if (value === null || value instanceof Date) return value;
  return new Date(`${value.replace(' ', 'T')}Z`);
}

/** A personal API key checked once: its user, scopes and expiry. */
export interface VerifiedApiKey {
  user: AuthUser;
  keyId: string;
  scopes: ApiKeyScopeName[];
  expiresAt: Date | null;
}

/**
 * Checks a presented personal API key on every use (HTTP guard and socket handshakes): one
 * indexed lookup by prefix with its user, a constant-time HMAC comparison, expiry and the
 * account state. Revocation deletes the row, so it holds on every instance from the next request.
 */
@Injectable()
export class ApiKeyAuthenticator {
  private readonly logger = new Logger(ApiKeyAuthenticator.name);
  /** prefix → owner and limit (null: no such key). Neither ever changes, so entries stay true. */
  private readonly owners = new Map<string, ApiKeyOwner | null>();

  /** The lookup of every request with a key, in the driver's placeholder style. */
  private readonly keyByPrefixSql: string;

  constructor(
    private readonly hasher: ApiKeyHasher,
    @InjectRepository(ApiKey) private readonly keys: Repository<ApiKey>,
  ) {
    this.keyByPrefixSql = driverSql(
      keys.manager.connection,
      'SELECT k.id, k.key_hash, k.tokens_per_day, k.scopes, k.expires_at, k.last_used_at, u.id AS user_id, ' +
        'u.email, u.role, u.is_active FROM api_keys k JOIN users u ON u.id = k.user_id WHERE k.prefix = ?',
    );
  }

  /**
   * The user a key claims to belong to, without checking it (expiry, revocation, the secret): the
   * rate limiter counts a key's requests against its user before the guard runs. Cached per prefix.
   */
  async ownerOf(token: string): Promise<ApiKeyOwner | undefined> {
    const prefix = this.hasher.prefixOf(token);
    if (!prefix) return undefined;
    let owner = this.owners.get(prefix);
    if (owner === undefined) {
      const row = await this.keys.findOne({
        where: { prefix },
        select: { userId: true, rateLimitPerMinute: true },
      });
      owner = row
        ? { userId: row.userId, prefix, rateLimitPerMinute: row.rateLimitPerMinute }
        : null;
      if (this.owners.size >= OWNER_CACHE_SIZE) {
        this.owners.delete(this.owners.keys().next().value as string);
      }
      this.owners.set(prefix, owner);
    }
    return owner ?? undefined;
  }

  /** UnauthorizedError for an unknown, revoked or expired key; ForbiddenError for a disabled account. */
  async authenticate(token: string): Promise<VerifiedApiKey> {
    const prefix = this.hasher.prefixOf(token);
    if (!prefix) throw new UnauthorizedError('Invalid API key');
    // Every request with a key runs this: one indexed SELECT with a join, without building and
    // hydrating a TypeORM query, so a key costs no more than an access token (AccessTokenService).
    const rows = await this.keys.query<KeyRow[]>(this.keyByPrefixSql, [prefix]);
    const key = rows[0];
    if (!key || !this.hasher.matches(token, key.key_hash)) {
      throw new UnauthorizedError('Invalid API key');
    }
    const now = Date.now();
    const expiresAt = toDate(key.expires_at);
    if (expiresAt && expiresAt.getTime() <= now) {
      throw new UnauthorizedError('API key has expired');
    }
    // SQLite stores booleans as 0/1, Postgres returns true/false.
    if (!key.is_active) throw new ForbiddenError('Account is disabled');
    const lastUsedAt = toDate(key.last_used_at);
    if (!lastUsedAt || now - lastUsedAt.getTime() > LAST_USED_RESOLUTION_MS) {
      // Bookkeeping only: never delay or fail the request for it.
      this.keys
        .update({ id: key.id }, { lastUsedAt: new Date(now) })
        .catch((error: unknown) =>
          this.logger.warn({ err: error, keyId: key.id }, 'Could not record API key use'),
        );
    }
    return {
      user: {
        id: key.user_id,
        email: key.email,
        role: key.role,
        apiKey: { id: key.id, tokensPerDay: key.tokens_per_day },
      },
      keyId: key.id,
      scopes: key.scopes.split(' ') as ApiKeyScopeName[],
      expiresAt,
    };
  }
}
