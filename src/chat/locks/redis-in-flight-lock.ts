import { randomUUID } from 'node:crypto';
import type Redis from 'ioredis';
import { Logger } from '@nestjs/common';
import type { InFlightLock, LockHandle } from './in-flight-lock';
import { LockRenewals } from './lock-renewals';

/** Deletes the key only if it still holds our token (never another holder's lock). */
const RELEASE_SCRIPT = `if redis.call("get", KEYS[1]) == ARGV[1] then return redis.call("del", KEYS[1]) else return 0 end`;
/** Extends the expiry only if the key still holds our token. */
const RENEW_SCRIPT = `if redis.call("get", KEYS[1]) == ARGV[1] then return redis.call("pexpire", KEYS[1], ARGV[2]) else return 0 end`;

/**
 * Cross-instance lock: `SET key token NX PX ttl`, renewed every ttl/3 while held, released with a
 * compare-and-delete script so an expired-and-retaken lock is never freed by its old holder.
 */
export class RedisInFlightLock implements InFlightLock {
  private readonly logger = new Logger(RedisInFlightLock.name);
  private readonly renewals = new LockRenewals();

  constructor(
    private readonly redis: Redis,
    private readonly prefix = 'chat:lock:',
  ) {}

  async acquire(key: string, ttlMs: number): Promise<LockHandle | null> {
    const redisKey = this.prefix + key;
    const token = randomUUID();
    const ok = await this.redis.set(redisKey, token, 'PX', ttlMs, 'NX');
    if (ok !== 'OK') return null;
    return this.renewals.hold(
      ttlMs,
      () => {
        this.redis.eval(RENEW_SCRIPT, 1, redisKey, token, String(ttlMs)).catch((error) => {
          this.logger.warn({ err: error, key }, 'Could not renew a session lock');
        });
      },
      async () => {
        try {
          await this.redis.eval(RELEASE_SCRIPT, 1, redisKey, token);
        } catch (error) {
          // The lock then expires on its own after ttlMs.
          this.logger.warn({ err: error, key }, 'Could not release a session lock');
        }
      },
    );
  }

  async isHeld(key: string): Promise<boolean> {
    return (await this.redis.exists(this.prefix + key)) === 1;
  }

  async close(): Promise<void> {
    this.renewals.stopAll();
  }
}
