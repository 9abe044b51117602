import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { ConflictError, NotFoundError } from '@app/common';
import { AuditLogService } from '../audit/audit-log.service';
import type { AuditContext } from '../audit/audit-context';
import { ApiKeyHasher } from './api-key-hasher';
import { API_KEY_SCOPES, type ApiKeyScopeName } from './api-key-scopes';
import { ApiKey } from './entities/api-key.entity';

/** Live keys one user may hold at a time. */
export const MAX_KEYS_PER_USER = 50;
const DAY_MS = 86_400_000;

/** A stored key as the service hands it out (never the hash). */
export interface ApiKeyRecord {
  id: string;
  name: string;
  prefix: string;
  scopes: ApiKeyScopeName[];
  rateLimitPerMinute: number | null;
  tokensPerDay: number | null;
  createdAt: Date;
  expiresAt: Date | null;
  lastUsedAt: Date | null;
}

export interface NewApiKey {
  name: string;
  scopes: ApiKeyScopeName[];
  expiresInDays?: number;
  rateLimitPerMinute?: number;
  tokensPerDay?: number;
}

/** Creating, listing and revoking a user's personal API keys (checking them: ApiKeyAuthenticator). */
@Injectable()
export class ApiKeysService {
  constructor(
    private readonly hasher: ApiKeyHasher,
    @InjectRepository(ApiKey) private readonly keys: Repository<ApiKey>,
    private readonly audit: AuditLogService,
  ) {}

  /** Stores a new key and returns it with the secret, which is never available again. */
  async create(userId: string, input: NewApiKey): Promise<ApiKeyRecord & { key: string }> {
    if ((await this.keys.countBy({ userId })) >= MAX_KEYS_PER_USER) {
      throw new ConflictError(
        `At most ${MAX_KEYS_PER_USER} API keys per account; revoke one first`,
      );
    }
    const generated = this.hasher.generate();
    const now = Date.now();
    const row = this.keys.create({
      id: randomUUID(),
      userId,
      name: input.name,
      prefix: generated.prefix,
      keyHash: generated.hash,
      // Stored in the canonical order, so listings read the same whatever order was sent.
      scopes: API_KEY_SCOPES.filter((scope) => input.scopes.includes(scope)).join(' '),
      rateLimitPerMinute: input.rateLimitPerMinute ?? null,
      tokensPerDay: input.tokensPerDay ?? null,
      createdAt: new Date(now),
      expiresAt: input.expiresInDays ? new Date(now + input.expiresInDays * DAY_MS) : null,
      lastUsedAt: null,
    });
    await this.keys.insert(row);
    return { ...toRecord(row), key: generated.key };
  }

  /** The user's keys, newest first (expired ones included, so they can be seen and revoked). */
  async list(userId: string): Promise<ApiKeyRecord[]> {
    const rows = await this.keys.find({
      where: { userId },
      order: { createdAt: 'DESC', id: 'ASC' },
    });
    return rows.map(toRecord);
  }

  /** Revokes (deletes) a key and audits it; 404 for an unknown id or another user's key. */
  async revoke(userId: string, keyId: string, context: AuditContext): Promise<void> {
    const id = keyId.toLowerCase();
    const key = await this.keys.findOne({
      where: { id, userId },
      select: { name: true, prefix: true },
    });
    const result = await this.keys.delete({ id, userId });
    if (!key || !result.affected) throw new NotFoundError('API key not found');
    await this.audit.recordSecurityEvent(context, {
      action: 'api_key.revoked',
      target: `api_key:${id}`,
      details: { name: key.name, prefix: key.prefix, owner_id: userId },
    });
  }
}

function toRecord(row: ApiKey): ApiKeyRecord {
  return {
    id: row.id,
    name: row.name,
    prefix: row.prefix,
    scopes: row.scopes.split(' ') as ApiKeyScopeName[],
    rateLimitPerMinute: row.rateLimitPerMinute,
    tokensPerDay: row.tokensPerDay,
    createdAt: row.createdAt,
    expiresAt: row.expiresAt,
    lastUsedAt: row.lastUsedAt,
  };
}
