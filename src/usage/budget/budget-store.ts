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

export interface BudgetStore {
  /**
   * Adds `amountMicros` to every counter if each stays within its limit (and none is used up
   * already), atomically; otherwise changes nothing and names the first counter that refused.
   */
  reserve(counters: BudgetCounter[], amountMicros: number): Promise<ReserveOutcome>;
  /** Adds `deltaMicros` (negative to give back) to every counter, whatever the limits. */
  adjust(counters: BudgetCounter[], deltaMicros: number): Promise<void>;
}

/** Counters in this process's memory: check and add happen in one synchronous step. */
export class MemoryBudgetStore implements BudgetStore {
  private readonly counters = new Map<string, { value: number; expiresAt: number }>();

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
    for (const [key, entry] of this.counters) {
      if (entry.expiresAt <= now) this.counters.delete(key);
    }
  }
}
