/**
 * Counters behind the per-user quotas. Two implementations behind the QUOTA_STORE token:
 * in-process (one instance) and Redis (REDIS_URL set; every instance shares the counts).
 */
export const QUOTA_STORE = Symbol('QUOTA_STORE');

/** Outcome of counting one request in a sliding window. */
export interface WindowHit {
  allowed: boolean;
  /** Requests counted in the current fixed window (after this one, when allowed). */
  current: number;
  /** Requests counted in the previous fixed window. */
  previous: number;
}

export interface QuotaStore {
  /**
   * Sliding-window counter (the weighted sum of the current and previous fixed windows):
   * counts one request under `key` if the estimate stays within `limit`, atomically.
   * `previousWeight` is the share of the previous window still inside the sliding window.
   */
  hitWindow(
    currentKey: string,
    previousKey: string,
    limit: number,
    previousWeight: number,
    ttlMs: number,
  ): Promise<WindowHit>;
  /** Adds `amount` to the counter `key` (created with `ttlMs`); returns the new total. */
  add(key: string, amount: number, ttlMs: number): Promise<number>;
  /** The counter's value, 0 when absent or expired. */
  get(key: string): Promise<number>;
}

/** Counters in this process's memory; expired entries are swept as they are met and periodically. */
export class MemoryQuotaStore implements QuotaStore {
  private readonly counters = new Map<string, { value: number; expiresAt: number }>();
  private operations = 0;

  constructor(private readonly now: () => number = Date.now) {}

  async hitWindow(
    currentKey: string,
    previousKey: string,
    limit: number,
    previousWeight: number,
    ttlMs: number,
  ): Promise<WindowHit> {
    const current = this.read(currentKey);
    const previous = this.read(previousKey);
    if (previous * previousWeight + current + 1 > limit) {
      return { allowed: false, current, previous };
    }
    return { allowed: true, current: this.increment(currentKey, 1, ttlMs), previous };
  }

  async add(key: string, amount: number, ttlMs: number): Promise<number> {
    return this.increment(key, amount, ttlMs);
  }

  async get(key: string): Promise<number> {
    return this.read(key);
  }

  private read(key: string): number {
    const entry = this.counters.get(key);
    if (!entry) return 0;
    if (entry.expiresAt <= this.now()) {
      this.counters.delete(key);
      return 0;
    }
    return entry.value;
  }

  private increment(key: string, amount: number, ttlMs: number): number {
    if (++this.operations % 1000 === 0) this.sweep();
    const value = this.read(key) + amount;
    const existing = this.counters.get(key);
    this.counters.set(key, { value, expiresAt: existing?.expiresAt ?? this.now() + ttlMs });
    return value;
  }

  private sweep(): void {
    const now = this.now();
    for (const [key, entry] of this.counters) {
      if (entry.expiresAt <= now) this.counters.delete(key);
    }
  }
}
