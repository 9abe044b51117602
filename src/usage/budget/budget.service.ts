import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import { DomainError } from '@app/common';
import { AppConfig, type BudgetConfig } from '@app/config';
import { MetricsService } from '../../metrics/metrics.service';
import { MICROS_PER_USD, PriceCatalog } from '../price-catalog';
import { BUDGET_OVERRIDES, type BudgetOverrideLookup } from './budget-overrides';
import { BUDGET_STORE, type BudgetCounter, type BudgetStore } from './budget-store';
import { BudgetExceededError, BudgetUnavailableError, type BudgetPeriod } from './budget.errors';

const DAY_MS = 86_400_000;
/**
 * Lease of a reservation held for a call with no stored reply (stateless /v1): renewed every
 * third of it while the call runs, so a reservation whose instance died is settled within this
 * plus one sweep (`settleExpiredLeases`).
 */
export const BUDGET_LEASE_MS = 30_000;
/** Leased reservations settled per sweep at most; the rest wait for the next one. */
const LEASE_SWEEP_BATCH = 100;

/** What a call reserved: given back or made exact by `settle`. */
export interface BudgetReservation {
  userId: string;
  counters: BudgetCounter[];
  reservedMicros: number;
  model: string;
  promptTokens: number;
  /** The reply id it is held under in the store (see `hold`), once held. */
  heldAs?: string;
  /** Renews the lease of a reservation held by `holdLeased` until it is settled. */
  leaseRenewal?: NodeJS.Timeout;
}

/** What `settleInterrupted` made a held reservation: the cost charged and the prompt it priced. */
export interface InterruptedSettlement {
  costMicros: number;
  promptTokens: number;
}

/** A period's limit in micro-dollars and how its counter is keyed and reset. */
interface PeriodLimit {
  period: BudgetPeriod;
  limitMicros: number;
  usd: number;
}

/**
 * Per-user spend budgets (USD per UTC day and per UTC month; BUDGET__* defaults, per-user
 * overrides through the BUDGET_OVERRIDES port). Before a provider call the most the call can
 * cost is reserved atomically (BUDGET_STORE: Redis across instances, memory on one); a call that
 * does not fit is refused with 429 before the provider sees it. After the call the reservation
 * is settled to the real cost. A model without a price reserves nothing (its cost is unknown):
 * only a budget already used up refuses it.
 */
@Injectable()
export class BudgetService {
  private readonly logger = new Logger(BudgetService.name);
  private readonly defaults: BudgetConfig;

  constructor(
    config: AppConfig,
    private readonly prices: PriceCatalog,
    @Inject(BUDGET_STORE) private readonly store: BudgetStore,
    @Inject(BUDGET_OVERRIDES) private readonly overrides: BudgetOverrideLookup,
    @Optional() private readonly metrics?: MetricsService,
  ) {
    this.defaults = config.budget;
  }

  /**
   * Reserves the most a call of `modelId` can cost (prompt + every reply token at its price).
   * Returns undefined when the user has no budget. Throws BudgetExceededError (429) when the
   * reservation does not fit, BudgetUnavailableError (503) when the store is down and the
   * configured mode is `closed`.
   */
  async reserve(
    userId: string,
    modelId: string,
    promptTokens: number,
    maxReplyTokens: number,
    now = new Date(),
  ): Promise<BudgetReservation | undefined> {
    const limits = await this.limitsOf(userId);
    if (limits.length === 0) return undefined;
    const amount = this.prices.maxCostMicros(modelId, promptTokens, maxReplyTokens) ?? 0;
    const counters = limits.map((limit) => counterOf(userId, limit, now));
    try {
      const outcome = await this.store.reserve(counters, amount);
      if (!outcome.reserved) {
        const limit = limits[outcome.refusedBy];
        this.metrics?.budgetRejected(limit.period);
        this.metrics?.throttled('budget');
        throw exceeded(limit, outcome.usedMicros, amount, now);
      }
    } catch (error) {
      if (error instanceof DomainError) throw error;
      return this.storeDown(userId, error);
    }
    return { userId, counters, reservedMicros: amount, model: modelId, promptTokens };
  }

  /**
   * Keeps the reservation in the store under the id of the reply it pays for, so that if this
   * instance dies mid-reply the sweeper that finishes the reply settles it (`settleInterrupted`)
   * instead of it staying reserved until the period ends. Never throws: unheld, the reservation
   * is still settled by this instance.
   */
  async hold(reservation: BudgetReservation | undefined, replyId: string): Promise<void> {
    if (reservation) await this.keep(reservation, replyId);
  }

  /**
   * Holds the reservation of a call that stores no reply (stateless /v1) under `callId`, leased:
   * this instance renews the lease until `settle`; if it dies, `settleExpiredLeases` on any
   * instance settles the reservation once the lease has run out, instead of it staying reserved
   * until the period ends. Never throws.
   */
  async holdLeased(reservation: BudgetReservation | undefined, callId: string): Promise<void> {
    if (!reservation || !(await this.keep(reservation, callId, Date.now() + BUDGET_LEASE_MS))) {
      return;
    }
    reservation.leaseRenewal = setInterval(() => {
      this.store.renewLease(callId, Date.now() + BUDGET_LEASE_MS).catch((error: unknown) => {
        this.logger.warn({ err: error, callId }, 'Could not renew a budget lease');
      });
    }, BUDGET_LEASE_MS / 3);
    reservation.leaseRenewal.unref();
  }

  /**
   * Puts the reservation in the store under `id` (leased until `leaseUntil`, if given) for as
   * long as its longest counter lives; false, logged, when the store is unavailable.
   */
  private async keep(
    reservation: BudgetReservation,
    id: string,
    leaseUntil?: number,
  ): Promise<boolean> {
    const { userId, counters, reservedMicros, model, promptTokens } = reservation;
    const held = { userId, counters, reservedMicros, model, promptTokens };
    try {
      const ttlMs = Math.max(...counters.map((c) => c.ttlMs));
      await this.store.hold(id, held, ttlMs, leaseUntil);
      reservation.heldAs = id;
      return true;
    } catch (error) {
      this.logger.warn({ err: error, id }, 'Budget store unavailable; reservation not held');
      return false;
    }
  }

  /**
   * Settles the leased reservations (see `holdLeased`) whose instance stopped renewing them, to
   * the cost of their prompt: the reply was never stored, so no produced text is known. Returns
   * how many it settled. Never throws.
   */
  async settleExpiredLeases(now = Date.now()): Promise<number> {
    let settled = 0;
    try {
      for (const callId of await this.store.expiredLeases(now, LEASE_SWEEP_BATCH)) {
        const settlement = await this.settleInterrupted(callId, 0);
        if (settlement === undefined) continue;
        settled++;
        this.logger.warn(
          { callId, micros: settlement.costMicros },
          'Settled the budget of a call whose instance died',
        );
      }
    } catch (error) {
      this.logger.warn({ err: error }, 'Could not look for expired budget leases');
    }
    return settled;
  }

  /**
   * Makes the reservation the real cost (`actualMicros`; null = unknown, the reservation is
   * given back). Never throws: a store outage only logs.
   */
  async settle(
    reservation: BudgetReservation | undefined,
    actualMicros: number | null,
  ): Promise<void> {
    if (!reservation) return;
    clearInterval(reservation.leaseRenewal);
    const delta = (actualMicros ?? 0) - reservation.reservedMicros;
    try {
      // A held reservation is settled by whoever takes it first: this instance, or the sweeper
      // of another one that took this reply for interrupted.
      if (reservation.heldAs !== undefined && !(await this.store.take(reservation.heldAs))) return;
      await this.store.adjust(reservation.counters, delta);
    } catch (error) {
      this.logger.error(
        { err: error, userId: reservation.userId, delta },
        'Budget store unavailable; a reservation was not settled',
      );
    }
  }

  /**
   * Settles the reservation held for a reply whose instance died (see `hold`) to the cost of
   * what was produced: its prompt and `completionTokens` at the model's price (unknown price:
   * given back). Returns that cost and the prompt it priced, or undefined when nothing was held
   * (settled already, no budget, or a memory store that died with its process). Never throws.
   */
  async settleInterrupted(
    replyId: string,
    completionTokens: number,
  ): Promise<InterruptedSettlement | undefined> {
    try {
      const held = await this.store.take(replyId);
      if (!held) return undefined;
      const cost =
        this.prices.costMicros(held.model, {
          promptTokens: held.promptTokens,
          completionTokens,
          totalTokens: held.promptTokens + completionTokens,
        }) ?? 0;
      await this.store.adjust(held.counters, cost - held.reservedMicros);
      return { costMicros: cost, promptTokens: held.promptTokens };
    } catch (error) {
      this.logger.error(
        { err: error, replyId },
        'Budget store unavailable; an interrupted reply was not settled',
      );
      return undefined;
    }
  }

  /**
   * Adds the cost of a call that was not reserved (a generated session title) to the user's
   * counters, whatever the limits. Never throws.
   */
  async charge(userId: string, micros: number | null, now = new Date()): Promise<void> {
    if (!micros) return;
    try {
      const limits = await this.limitsOf(userId);
      if (limits.length === 0) return;
      await this.store.adjust(
        limits.map((limit) => counterOf(userId, limit, now)),
        micros,
      );
    } catch (error) {
      this.logger.error(
        { err: error, userId, micros },
        'A call could not be charged to its budget',
      );
    }
  }

  /** Gives a reservation back whole (the call never happened). */
  async release(reservation: BudgetReservation | undefined): Promise<void> {
    await this.settle(reservation, 0);
  }

  /**
   * The user's limits (override, else default), without the unlimited ones. Overrides are read
   * even when no default is set (an admin may budget one user): one primary-key read per call.
   */
  private async limitsOf(userId: string): Promise<PeriodLimit[]> {
    const override = await this.overrides.find(userId);
    const day = override?.usdPerDay ?? this.defaults.usdPerDay;
    const month = override?.usdPerMonth ?? this.defaults.usdPerMonth;
    const limits: PeriodLimit[] = [];
    if (day > 0) limits.push({ period: 'day', usd: day, limitMicros: toMicros(day) });
    if (month > 0) limits.push({ period: 'month', usd: month, limitMicros: toMicros(month) });
    return limits;
  }

  private storeDown(userId: string, error: unknown): undefined {
    const mode = this.defaults.redisDown;
    this.metrics?.budgetStoreUnavailable(mode);
    this.logger.error(
      { err: error, userId, mode },
      mode === 'open'
        ? 'Budget store unavailable; request let through (BUDGET__REDIS_DOWN=open)'
        : 'Budget store unavailable; request refused (BUDGET__REDIS_DOWN=closed)',
    );
    if (mode === 'closed') {
      throw new BudgetUnavailableError(
        'Spending limits cannot be checked right now; please try again shortly',
      );
    }
    return undefined;
  }
}

function toMicros(usd: number): number {
  return Math.round(usd * MICROS_PER_USD);
}

/** The counter of a period containing `now`, living a day past the period's end. */
function counterOf(userId: string, limit: PeriodLimit, now: Date): BudgetCounter {
  const label =
    limit.period === 'day' ? now.toISOString().slice(0, 10) : now.toISOString().slice(0, 7);
  return {
    key: `${limit.period}:${userId}:${label}`,
    limitMicros: limit.limitMicros,
    ttlMs: resetOf(limit.period, now).getTime() - now.getTime() + DAY_MS,
  };
}

/** When the period containing `now` ends (00:00 UTC of the next day / month). */
function resetOf(period: BudgetPeriod, now: Date): Date {
  return period === 'day'
    ? new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1))
    : new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1));
}

function usd(micros: number): string {
  const value = micros / MICROS_PER_USD;
  return `$${value >= 1 ? value.toFixed(2) : value.toFixed(6).replace(/0{1,4}$/, '')}`;
}

function exceeded(
  limit: PeriodLimit,
  used: number,
  amount: number,
  now: Date,
): BudgetExceededError {
  const reset = resetOf(limit.period, now);
  const name = limit.period === 'day' ? 'Daily' : 'Monthly';
  const left = Math.max(0, limit.limitMicros - used);
  const when =
    limit.period === 'day'
      ? 'it resets at 00:00 UTC'
      : `it resets on ${reset.toISOString().slice(0, 10)} at 00:00 UTC`;
  const detail =
    left === 0
      ? `${name} spending limit of ${usd(limit.limitMicros)} reached; ${when}`
      : `${name} spending limit of ${usd(limit.limitMicros)} would be exceeded: this request may ` +
        `cost up to ${usd(amount)} and ${usd(left)} is left; ${when}`;
  return new BudgetExceededError(
    detail,
    Math.max(1, Math.ceil((reset.getTime() - now.getTime()) / 1000)),
    limit.period,
  );
}
