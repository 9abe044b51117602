/**
 * Spend counters behind per-user budgets, in micro-dollars. Two implementations behind the
 * BUDGET_STORE token: in-process (exact on one instance) and Redis (REDIS_URL set; a Lua script
 * checks and reserves atomically for every instance).
 */
export const BUDGET_STORE = Symbol('BUDGET_STORE');

/** One period's counter and the most it may reach. */
export interface BudgetCounter {
  key: string;
  limitMicros: number;
  /** Lifetime of the counter (a little longer than its period). */
  ttlMs: number;
}

/** Outcome of a reservation: taken, or refused by the first counter it would overrun. */
export type ReserveOutcome =
  { reserved: true } | { reserved: false; refusedBy: number; usedMicros: number };

/**
 * A reservation kept in the store under its reply's id, so that whichever instance finishes the
 * reply (its own, or another's sweeper when the owner died) can settle it, once.
 */
export interface HeldReservation {
  userId: string;
  counters: BudgetCounter[];
  reservedMicros: number;
  /** `provider/model` the reservation was priced for. */
  model: string;
  promptTokens: number;
}

export interface BudgetStore {
  /**
   * Adds `amountMicros` to every counter if each stays within its limit (and none is used up
   * already), atomically; otherwise changes nothing and names the first counter that refused.
   */
  reserve(counters: BudgetCounter[], amountMicros: number): Promise<ReserveOutcome>;
  /** Adds `deltaMicros` (negative to give back) to every counter, whatever the limits. */
  adjust(counters: BudgetCounter[], deltaMicros: number): Promise<void>;
  /**
   * Keeps `held` under `id` for `ttlMs` (a reservation that outlives its process, on Redis). With
   * `leaseUntil` (epoch ms) it is also leased: its holder renews the lease while it runs, and once
   * the lease has run out `expiredLeases` names it (a call with no stored reply to sweep).
   */
  hold(id: string, held: HeldReservation, ttlMs: number, leaseUntil?: number): Promise<void>;
  /** Moves the lease of a held reservation to `until` (epoch ms); nothing when none is held. */
  renewLease(id: string, until: number): Promise<void>;
  /** Ids whose lease ran out before `now` (epoch ms), at most `limit`. */
  expiredLeases(now: number, limit: number): Promise<string[]>;
  /**
   * Removes and returns what is held under `id` (and its lease), atomically: one caller gets it,
   * the rest none.
   */
  take(id: string): Promise<HeldReservation | undefined>;
}

/** Counters in this process's memory: check and add happen in one synchronous step. */
export class MemoryBudgetStore implements BudgetStore {
  private readonly counters = new Map<string, { value: number; expiresAt: number }>();
  private readonly held = new Map<string, { held: HeldReservation; expiresAt: number }>();
  private readonly leases = new Map<string, number>();

  constructor(private readonly now: () => number = Date.now) {}

  async reserve(counters: BudgetCounter[], amountMicros: number): Promise<ReserveOutcome> {
    this.sweep();
    for (const [index, counter] of counters.entries()) {
      const used = this.counters.get(counter.key)?.value ?? 0;
      if (used >= counter.limitMicros || used + amountMicros > counter.limitMicros) {
        return { reserved: false, refusedBy: index, usedMicros: used };
      }
    }
    this.add(counters, amountMicros);
    return { reserved: true };
  }

  async adjust(counters: BudgetCounter[], deltaMicros: number): Promise<void> {
    this.add(counters, deltaMicros);
  }

  async hold(id: string, held: HeldReservation, ttlMs: number, leaseUntil?: number): Promise<void> {
    this.held.set(id, { held, expiresAt: this.now() + ttlMs });
    if (leaseUntil !== undefined) this.leases.set(id, leaseUntil);
  }

  async renewLease(id: string, until: number): Promise<void> {
    if (this.leases.has(id)) this.leases.set(id, until);
  }

  async expiredLeases(now: number, limit: number): Promise<string[]> {
    const expired: string[] = [];
    for (const [id, until] of this.leases) {
      if (expired.length >= limit) break;
      if (until < now) expired.push(id);
    }
    return expired;
  }

  async take(id: string): Promise<HeldReservation | undefined> {
    const entry = this.held.get(id);
    this.held.delete(id);
    this.leases.delete(id);
    return entry && entry.expiresAt > this.now() ? entry.held : undefined;
  }

  private add(counters: BudgetCounter[], delta: number): void {
    for (const counter of counters) {
      const entry = this.counters.get(counter.key);
      if (entry) entry.value += delta;
      else {
        this.counters.set(counter.key, { value: delta, expiresAt: this.now() + counter.ttlMs });
      }
    }
  }

  private sweep(): void {
    const now = this.now();
    for (const map of [this.counters, this.held]) {
      for (const [key, entry] of map) {
        if (entry.expiresAt <= now) map.delete(key);
      }
    }
  }
}
