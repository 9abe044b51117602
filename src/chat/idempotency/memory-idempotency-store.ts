import type { IdempotencyRecord, IdempotencyStore, StoredChatResult } from './idempotency-store';

interface Entry {
  record: IdempotencyRecord;
  expiresAt: number;
}

/** In-process store for a single instance; expired entries are swept lazily and periodically. */
export class MemoryIdempotencyStore implements IdempotencyStore {
  private readonly entries = new Map<string, Entry>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(sweepEveryMs = 60_000) {
    this.sweeper = setInterval(() => this.sweep(), sweepEveryMs);
    this.sweeper.unref();
  }

  async claim(
    key: string,
    fingerprint: string,
    runningTtlSeconds: number,
  ): Promise<IdempotencyRecord | null> {
    const existing = this.live(key);
    if (existing) return existing.record;
    this.entries.set(key, {
      record: { state: 'running', fingerprint },
      expiresAt: Date.now() + runningTtlSeconds * 1000,
    });
    return null;
  }

  async complete(
    key: string,
    fingerprint: string,
    result: StoredChatResult,
    ttlSeconds: number,
  ): Promise<void> {
    this.entries.set(key, {
      record: { state: 'done', fingerprint, result },
      expiresAt: Date.now() + ttlSeconds * 1000,
    });
  }

  async release(key: string): Promise<void> {
    this.entries.delete(key);
  }

  async close(): Promise<void> {
    clearInterval(this.sweeper);
    this.entries.clear();
  }

  private live(key: string): Entry | undefined {
    const entry = this.entries.get(key);
    if (entry && entry.expiresAt <= Date.now()) {
      this.entries.delete(key);
      return undefined;
    }
    return entry;
  }

  private sweep(): void {
    const now = Date.now();
    for (const [key, entry] of this.entries) {
      if (entry.expiresAt <= now) this.entries.delete(key);
    }
  }
}
