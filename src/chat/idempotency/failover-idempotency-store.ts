import { Logger } from '@nestjs/common';
import { OutageWarning } from '../outage-warning';
import type { IdempotencyRecord, IdempotencyStore, StoredChatResult } from './idempotency-store';

/**
 * The Redis idempotency store with an in-process fallback. A key claimed while Redis is
 * unreachable lives in this process until it completes or is released, so a retry reaching the
 * same instance is still answered with the first result; a retry reaching another instance
 * during the outage runs again (the documented degraded mode).
 */
export class FailoverIdempotencyStore implements IdempotencyStore {
  private readonly outage = new OutageWarning(
    new Logger('IdempotencyStore'),
    'Redis unavailable: Idempotency-Key results are kept in this process until it is back',
  );
  /** Keys claimed in the fallback store, whose outcome must be stored there too. */
  private readonly local = new Set<string>();

  constructor(
    private readonly primary: IdempotencyStore,
    private readonly fallback: IdempotencyStore,
  ) {}

  async claim(
    key: string,
    fingerprint: string,
    runningTtlSeconds: number,
  ): Promise<IdempotencyRecord | null> {
    if (this.local.has(key)) return this.fallback.claim(key, fingerprint, runningTtlSeconds);
    try {
      return await this.primary.claim(key, fingerprint, runningTtlSeconds);
    } catch (error) {
      this.outage.log(error);
      const existing = await this.fallback.claim(key, fingerprint, runningTtlSeconds);
      if (!existing) this.local.add(key);
      return existing;
    }
  }

  async complete(
    key: string,
    fingerprint: string,
    result: StoredChatResult,
    ttlSeconds: number,
  ): Promise<void> {
    if (this.local.has(key)) {
      // Kept in this process for the whole ttl; `local` is only needed while running.
      this.local.delete(key);
      await this.fallback.complete(key, fingerprint, result, ttlSeconds);
      return;
    }
    await this.primary.complete(key, fingerprint, result, ttlSeconds);
  }

  async release(key: string): Promise<void> {
    if (this.local.delete(key)) {
      await this.fallback.release(key);
      return;
    }
    await this.primary.release(key);
  }

  async close(): Promise<void> {
    await Promise.all([this.primary.close(), this.fallback.close()]);
  }
}
