import { Logger } from '@nestjs/common';
import { OutageWarning } from '../outage-warning';
import type { InFlightLock, LockHandle } from './in-flight-lock';

/**
 * The Redis lock with an in-process fallback. While Redis is unreachable (its commands fail at
 * once: the shared command connection has no offline queue), a session lock is taken in this
 * process instead, so chat keeps working and one generation per session still holds on this instance — across
 * instances it is not guaranteed until Redis is back (the documented degraded mode). Locks
 * taken in memory are released in memory; Redis locks whose release fails expire after their ttl.
 */
export class FailoverInFlightLock implements InFlightLock {
  private readonly outage = new OutageWarning(
    new Logger('InFlightLock'),
    'Redis unavailable: session locks fall back to this process (one generation per session is enforced per instance only)',
  );

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
      this.outage.log(error);
      return this.fallback.acquire(key, ttlMs);
    }
  }

  async isHeld(key: string): Promise<boolean> {
    if (await this.fallback.isHeld(key)) return true;
    try {
      return await this.primary.isHeld(key);
    } catch (error) {
      this.outage.log(error);
      return false;
    }
  }

  async close(): Promise<void> {
    await Promise.all([this.primary.close(), this.fallback.close()]);
  }
}
