import { Logger } from '@nestjs/common';
import type { InFlightLock, LockHandle } from './in-flight-lock';

const WARNING_INTERVAL_MS = 30_000;

/**
 * The Redis lock with an in-process fallback. While Redis is unreachable (its commands fail
 * at once: ChatRedis has no offline queue), a session lock is taken in this process instead, so
 * chat keeps working and one generation per session still holds on this instance — across
 * instances it is not guaranteed until Redis is back (the documented degraded mode). Locks
 * taken in memory are released in memory; Redis locks whose release fails expire after their ttl.
 */
export class FailoverInFlightLock implements InFlightLock {
  private readonly logger = new Logger('InFlightLock');
  private lastWarning = 0;

  constructor(
    private readonly primary: InFlightLock,
    private readonly fallback: InFlightLock,
  ) {}

  async acquire(key: string, ttlMs: number): Promise<LockHandle | null> {
    // A lock held in memory (taken during an outage) still counts once Redis is back.
    if (await this.fallback.isHeld(key)) return null;
    try {
      return await this.primary.acquire(key, ttlMs);
    } catch (error) {
      this.warn(error);
      return this.fallback.acquire(key, ttlMs);
    }
  }

  async isHeld(key: string): Promise<boolean> {
    if (await this.fallback.isHeld(key)) return true;
    try {
      return await this.primary.isHeld(key);
    } catch (error) {
      this.warn(error);
      return false;
    }
  }

  async close(): Promise<void> {
    await Promise.all([this.primary.close(), this.fallback.close()]);
  }

  private warn(error: unknown): void {
    const now = Date.now();
    if (now - this.lastWarning < WARNING_INTERVAL_MS) return;
    this.lastWarning = now;
    this.logger.warn(
      { err: error },
      'Redis unavailable: session locks fall back to this process (one generation per session is enforced per instance only)',
    );
  }
}
