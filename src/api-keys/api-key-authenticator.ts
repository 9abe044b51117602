import { Injectable, Logger } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { ForbiddenError, UnauthorizedError } from '@app/common';
import type { AuthUser } from '../auth/auth-user';
import { ApiKeyHasher } from './api-key-hasher';
import type { ApiKeyScopeName } from './api-key-scopes';
import { ApiKey } from './entities/api-key.entity';

/** `last_used_at` is written at most this often per key, not on every request. */
const LAST_USED_RESOLUTION_MS = 60_000;
/** Prefixes whose owner is remembered for the rate limiter (oldest forgotten first). */
const OWNER_CACHE_SIZE = 10_000;

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
  /** prefix → user id (null: no such key). A prefix never changes owner, so entries stay true. */
  private readonly owners = new Map<string, string | null>();

  constructor(
    private readonly hasher: ApiKeyHasher,
    @InjectRepository(ApiKey) private readonly keys: Repository<ApiKey>,
  ) {}

  /**
   * The user a key claims to belong to, without checking it (expiry, revocation, the secret): the
   * rate limiter counts a key's requests against its user before the guard runs. Cached per prefix.
   */
  async ownerOf(token: string): Promise<string | undefined> {
    const prefix = this.hasher.prefixOf(token);
    if (!prefix) return undefined;
    let owner = this.owners.get(prefix);
    if (owner === undefined) {
      const row = await this.keys.findOne({ where: { prefix }, select: { userId: true } });
      owner = row?.userId ?? null;
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
    const key = await this.keys.findOne({ where: { prefix }, relations: { user: true } });
    if (!key?.user || !this.hasher.matches(token, key.keyHash)) {
      throw new UnauthorizedError('Invalid API key');
    }
    const now = Date.now();
    if (key.expiresAt && key.expiresAt.getTime() <= now) {
      throw new UnauthorizedError('API key has expired');
    }
    if (!key.user.isActive) throw new ForbiddenError('Account is disabled');
    if (!key.lastUsedAt || now - key.lastUsedAt.getTime() > LAST_USED_RESOLUTION_MS) {
      // Bookkeeping only: never delay or fail the request for it.
      this.keys
        .update({ id: key.id }, { lastUsedAt: new Date(now) })
        .catch((error: unknown) =>
          this.logger.warn({ err: error, keyId: key.id }, 'Could not record API key use'),
        );
    }
    return {
      user: { id: key.user.id, email: key.user.email, apiKeyId: key.id },
      keyId: key.id,
      scopes: key.scopes.split(' ') as ApiKeyScopeName[],
      expiresAt: key.expiresAt,
    };
  }
}
