import { Injectable, Logger } from '@nestjs/common';
import { InjectThrottlerStorage, type ThrottlerStorage } from '@nestjs/throttler';
import { AppConfig } from '@app/config';
import { RateLimitedError } from '@app/common';

const WINDOW_MS = 15 * 60_000;
const STORAGE_WARNING_INTERVAL_MS = 30_000;
const NO_LIMIT = Number.MAX_SAFE_INTEGER;

/**
 * Locks an account's login for 15 minutes after RATE_LIMIT__LOGIN_FAILURES_PER_ACCOUNT failed
 * attempts within 15 minutes. Keyed by the normalised e-mail whether or not the account exists
 * (no enumeration). Counters sit in the throttler storage (memory, or Redis shared by all
 * instances); since that storage can only increment, the lock is a separate key that is
 * "blocked" once and then only read with an unreachable limit.
 */
@Injectable()
export class LoginFailureLimiter {
  private readonly logger = new Logger(LoginFailureLimiter.name);
  private lastWarning = 0;

  constructor(
    @InjectThrottlerStorage() private readonly storage: ThrottlerStorage,
    private readonly config: AppConfig,
  ) {}

  /**
   * Throws RateLimitedError (429 with Retry-After) while the account is locked. When the storage
   * (Redis) is unreachable the lock fails open, like the rate limits: logins keep working.
   */
  async assertNotLocked(email: string): Promise<void> {
    const lock = await this.storage
      .increment(lockKey(email), WINDOW_MS, NO_LIMIT, WINDOW_MS, 'login-lock')
      .catch((error: unknown) => this.storageDown(error));
    if (lock?.isBlocked) {
      throw new RateLimitedError(
        'Too many failed logins for this account; try again later',
        Math.max(1, lock.timeToBlockExpire),
      );
    }
  }

  /**
   * Counts one failed attempt; the attempt that reaches the limit locks the account. True when
   * this attempt locked it (a security event for the audit log).
   */
  async recordFailure(email: string): Promise<boolean> {
    const failures = await this.storage
      .increment(failuresKey(email), WINDOW_MS, NO_LIMIT, WINDOW_MS, 'login-failures')
      .catch((error: unknown) => this.storageDown(error));
    if (!failures || failures.totalHits < this.config.rateLimit.loginFailuresPerAccount) {
      return false;
    }
    // limit 0: this increment exceeds it and blocks the lock key for the whole window.
    const lock = await this.storage
      .increment(lockKey(email), WINDOW_MS, 0, WINDOW_MS, 'login-lock')
      .catch((error: unknown) => this.storageDown(error));
    return failures.totalHits === this.config.rateLimit.loginFailuresPerAccount && Boolean(lock);
  }

  private storageDown(error: unknown): undefined {
    const now = Date.now();
    if (now - this.lastWarning > STORAGE_WARNING_INTERVAL_MS) {
      this.lastWarning = now;
      this.logger.warn(
        { err: error },
        'Login-failure storage unavailable; account lock not applied',
      );
    }
    return undefined;
  }
}

const lockKey = (email: string) => `login-lock:${email}`;
const failuresKey = (email: string) => `login-failures:${email}`;
