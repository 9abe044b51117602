import { randomUUID } from 'node:crypto';
import type { InFlightLock, LockHandle } from './in-flight-lock';
import { LockRenewals } from './lock-renewals';

interface Holder {
  token: string;
  expiresAt: number;
}

/** In-process lock for a single instance. Expiry mirrors the Redis lock so both behave alike. */
export class MemoryInFlightLock implements InFlightLock {
  private readonly holders = new Map<string, Holder>();
  private readonly renewals = new LockRenewals();

  async acquire(key: string, ttlMs: number): Promise<LockHandle | null> {
    const now = Date.now();
    const current = this.holders.get(key);
    if (current && current.expiresAt > now) return null;
    const holder: Holder = { token: randomUUID(), expiresAt: now + ttlMs };
    this.holders.set(key, holder);
    const owned = () => this.holders.get(key)?.token === holder.token;
    return this.renewals.hold(
      ttlMs,
      () => {
        if (owned()) holder.expiresAt = Date.now() + ttlMs;
      },
      async () => {
        if (owned()) this.holders.delete(key);
      },
    );
  }

  async isHeld(key: string): Promise<boolean> {
    const current = this.holders.get(key);
    return current !== undefined && current.expiresAt > Date.now();
  }

  async close(): Promise<void> {
    this.renewals.stopAll();
    this.holders.clear();
  }
}
