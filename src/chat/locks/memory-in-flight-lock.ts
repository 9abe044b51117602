import { randomUUID } from 'node:crypto';
import type { InFlightLock, LockHandle } from './in-flight-lock';

interface Holder {
  token: string;
  expiresAt: number;
}

/** In-process lock for a single instance. Expiry mirrors the Redis lock so both behave alike. */
export class MemoryInFlightLock implements InFlightLock {
  private readonly holders = new Map<string, Holder>();
  private readonly renewals = new Set<NodeJS.Timeout>();

  async acquire(key: string, ttlMs: number): Promise<LockHandle | null> {
    const now = Date.now();
    const current = this.holders.get(key);
    if (current && current.expiresAt > now) return null;
    const holder: Holder = { token: randomUUID(), expiresAt: now + ttlMs };
    this.holders.set(key, holder);
    const renewal = setInterval(
      () => {
        if (this.holders.get(key)?.token === holder.token) holder.expiresAt = Date.now() + ttlMs;
      },
      Math.max(1, Math.floor(ttlMs / 3)),
    );
    renewal.unref();
    this.renewals.add(renewal);
    let released = false;
    return {
      release: async () => {
        if (released) return;
        released = true;
        clearInterval(renewal);
        this.renewals.delete(renewal);
        if (this.holders.get(key)?.token === holder.token) this.holders.delete(key);
      },
    };
  }

  async isHeld(key: string): Promise<boolean> {
    const current = this.holders.get(key);
    return current !== undefined && current.expiresAt > Date.now();
  }

  async close(): Promise<void> {
    for (const renewal of this.renewals) clearInterval(renewal);
    this.renewals.clear();
    this.holders.clear();
  }
}
