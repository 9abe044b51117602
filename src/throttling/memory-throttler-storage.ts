import type { OnModuleDestroy } from '@nestjs/common';
import type { ThrottlerStorage } from '@nestjs/throttler';

type ThrottlerStorageRecord = Awaited<ReturnType<ThrottlerStorage['increment']>>;

/** How often windows that ended (and blocks that ran out) are dropped. */
const EVICT_INTERVAL_MS = 60_000;

/** One key's current window: its hit count, when it ends, and the block, if any. */
interface HitWindow {
  hits: number;
  endsAt: number;
  blockedUntil: number;
}

/**
 * The throttler storage of a single instance (no REDIS_URL): the same fixed-window counting as
 * the Redis storage (@nest-lab/throttler-storage-redis: INCR with a TTL set by the window's first
 * hit, a block key once over the limit), in O(1) per request. The stock in-memory storage keeps
 * one timestamp per hit and filters them all on every request (O(hits per window)), which costs
 * a busy key — an API integration at hundreds of requests a second — a copy of thousands of
 * numbers per request.
 */
export class MemoryThrottlerStorage implements ThrottlerStorage, OnModuleDestroy {
  private readonly windows = new Map<string, HitWindow>();
  private readonly evictTimer = setInterval(() => this.evictEnded(), EVICT_INTERVAL_MS);

  constructor() {
    this.evictTimer.unref();
  }

  async increment(
    key: string,
    ttl: number,
    limit: number,
    blockDuration: number,
    throttlerName: string,
  ): Promise<ThrottlerStorageRecord> {
    const now = Date.now();
    const id = `${key}:${throttlerName}`;
    let window = this.windows.get(id);
    if (!window) {
      window = { hits: 0, endsAt: 0, blockedUntil: 0 };
      this.windows.set(id, window);
    }
    if (window.endsAt <= now) {
      window.hits = 0;
      window.endsAt = now + ttl;
    }
    window.hits++;
    let blockLeft = window.blockedUntil - now;
    if (blockLeft <= 0 && window.hits > limit) {
      window.blockedUntil = now + blockDuration;
      blockLeft = blockDuration;
    }
    const isBlocked = blockLeft > 0;
    return {
      totalHits: window.hits,
      timeToExpire: Math.ceil((window.endsAt - now) / 1000),
      isBlocked,
      timeToBlockExpire: isBlocked ? Math.ceil(blockLeft / 1000) : 0,
    };
  }

  onModuleDestroy(): void {
    clearInterval(this.evictTimer);
  }

  private evictEnded(now = Date.now()): void {
    for (const [id, window] of this.windows) {
      if (window.endsAt <= now && window.blockedUntil <= now) this.windows.delete(id);
    }
  }
}
