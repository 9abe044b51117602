import type { LockHandle } from './in-flight-lock';

/**
 * The renewal timers of the locks one InFlightLock holds, so the memory and the Redis lock
 * renew and release alike: renewed every ttl/3 while held, released once, all stopped on close.
 */
export class LockRenewals {
  private readonly timers = new Set<NodeJS.Timeout>();

  /** Runs `renew` every ttl/3 until the handle is released; `release` runs on its first call. */
  hold(ttlMs: number, renew: () => void, release: () => Promise<void>): LockHandle {
    const timer = setInterval(renew, Math.max(1, Math.floor(ttlMs / 3)));
    timer.unref();
    this.timers.add(timer);
    let released = false;
    return {
      release: async () => {
        if (released) return;
        released = true;
        clearInterval(timer);
        this.timers.delete(timer);
        await release();
      },
    };
  }

  /** Stops every renewal (shutdown); the locks then expire after their ttl. */
  stopAll(): void {
    for (const timer of this.timers) clearInterval(timer);
    this.timers.clear();
  }
}
