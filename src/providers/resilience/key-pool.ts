import { CircuitBreaker, type CircuitState } from './circuit-breaker';
import { OutcomeWindow } from './outcome-window';

/** One key of a provider with its health: disabled (401/403), cooling down (429), breaker. */
export class KeySlot {
  disabled = false;
  cooldownUntil = 0;
  /** Attempts and failures of the last minutes (the admin provider-health view). */
  readonly recent: OutcomeWindow;

  constructor(
    /** Position in the configured list; logs and metrics name keys by it, never by value. */
    readonly index: number,
    /** The key itself; undefined for providers that need none (local, self-hosted). */
    readonly key: string | undefined,
    readonly breaker: CircuitBreaker,
    private readonly now: () => number,
  ) {
    this.recent = new OutcomeWindow(now);
  }

  /** Milliseconds this key still cools down after a 429; 0 when it does not. */
  cooldownRemainingMs(): number {
    return Math.max(0, this.cooldownUntil - this.now());
  }

  /** True when a request may use this key now. */
  isReady(): boolean {
    return !this.disabled && this.cooldownUntil <= this.now() && this.breaker.canPass();
  }

  /** Milliseconds until this key may be used, or undefined if it never will (disabled, trial running). */
  readyInMs(): number | undefined {
    if (this.disabled) return undefined;
    const breaker = this.breaker.readyInMs();
    if (breaker === undefined) return undefined;
    return Math.max(0, this.cooldownUntil - this.now(), breaker);
  }
}

export interface KeyPoolOptions {
  breakerThreshold: number;
  breakerCooldownMs: number;
  now?: () => number;
  onBreakerChange?: (keyIndex: number, state: CircuitState) => void;
}

/**
 * The keys of one provider. Requests go round-robin over healthy keys; a 401/403 disables a
 * key for the life of the process, a 429 cools it down for Retry-After, and each key has its
 * own circuit breaker. A provider without keys has one slot with an undefined key.
 */
export class KeyPool {
  readonly slots: KeySlot[];
  private cursor = 0;
  private readonly now: () => number;

  constructor(keys: readonly (string | undefined)[], options: KeyPoolOptions) {
    this.now = options.now ?? Date.now;
    const list = keys.length > 0 ? keys : [undefined];
    this.slots = list.map(
      (key, index) =>
        new KeySlot(
          index,
          key,
          new CircuitBreaker(
            options.breakerThreshold,
            options.breakerCooldownMs,
            this.now,
            (state) => options.onBreakerChange?.(index, state),
          ),
          this.now,
        ),
    );
  }

  /**
   * The next healthy key in round-robin order, its breaker claimed; undefined when none is
   * ready. `exclude` skips keys already tried in this call when others are ready.
   */
  acquire(exclude: ReadonlySet<number> = new Set()): KeySlot | undefined {
    const n = this.slots.length;
    for (const skipExcluded of [true, false]) {
      for (let step = 0; step < n; step++) {
        const slot = this.slots[(this.cursor + step) % n];
        if (skipExcluded && exclude.has(slot.index)) continue;
        if (!slot.isReady()) continue;
        if (!slot.breaker.tryAcquire()) continue;
        this.cursor = (slot.index + 1) % n;
        return slot;
      }
    }
    return undefined;
  }

  /** 401/403: this key is refused; never use it again in this process. */
  disable(slot: KeySlot): void {
    slot.disabled = true;
    slot.breaker.release();
  }

  /** 429: do not use this key for `ms`. */
  coolDown(slot: KeySlot, ms: number): void {
    slot.cooldownUntil = Math.max(slot.cooldownUntil, this.now() + ms);
  }

  /** Milliseconds until some key may be used; undefined when every key is disabled or busy on a trial. */
  readyInMs(): number | undefined {
    let best: number | undefined;
    for (const slot of this.slots) {
      const ms = slot.readyInMs();
      if (ms !== undefined && (best === undefined || ms < best)) best = ms;
    }
    return best;
  }

  /** True when every key has been disabled by 401/403. */
  allDisabled(): boolean {
    return this.slots.every((slot) => slot.disabled);
  }
}
