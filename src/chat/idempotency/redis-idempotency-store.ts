import type Redis from 'ioredis';
import type { IdempotencyRecord, IdempotencyStore, StoredChatResult } from './idempotency-store';

/** Cross-instance store: one JSON value per key, claimed atomically with `SET NX EX`. */
export class RedisIdempotencyStore implements IdempotencyStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix = 'chat:idem:',
  ) {}

  async claim(
    key: string,
    fingerprint: string,
    runningTtlSeconds: number,
  ): Promise<IdempotencyRecord | null> {
    const redisKey = this.prefix + key;
    const running: IdempotencyRecord = { state: 'running', fingerprint };
    for (let attempt = 0; attempt < 3; attempt++) {
      const ok = await this.redis.set(
        redisKey,
        JSON.stringify(running),
        'EX',
        runningTtlSeconds,
        'NX',
      );
      if (ok === 'OK') return null;
      const raw = await this.redis.get(redisKey);
      // Expired between SET and GET: try to claim again.
      if (raw !== null) return JSON.parse(raw) as IdempotencyRecord;
    }
    return running;
  }

  async complete(
    key: string,
    fingerprint: string,
    result: StoredChatResult,
    ttlSeconds: number,
  ): Promise<void> {
    const record: IdempotencyRecord = { state: 'done', fingerprint, result };
    await this.redis.set(this.prefix + key, JSON.stringify(record), 'EX', ttlSeconds);
  }

  async release(key: string): Promise<void> {
    await this.redis.del(this.prefix + key);
  }

  async close(): Promise<void> {
    // The Redis connection is owned by RedisConnections.
  }
}
