/**
 * One generation at a time per session. Two implementations behind the IN_FLIGHT_LOCK token:
 * in-process (single instance) and Redis (REDIS_URL set; holds across instances).
 */
export const IN_FLIGHT_LOCK = Symbol('IN_FLIGHT_LOCK');

export interface LockHandle {
  /** Releases the lock if this handle still owns it; safe to call more than once. */
  release(): Promise<void>;
}

export interface InFlightLock {
  /**
   * Takes the lock for `key`, or returns null when someone else holds it. The lock expires
   * after `ttlMs` unless renewed; implementations renew it while the handle is held, so a
   * crashed holder never blocks a session for longer than `ttlMs`.
   */
  acquire(key: string, ttlMs: number): Promise<LockHandle | null>;
  /** True while someone holds the lock for `key` (on any instance, for Redis). */
  isHeld(key: string): Promise<boolean>;
  /** Stops renewals and frees resources (connections) at shutdown. */
  close(): Promise<void>;
}
