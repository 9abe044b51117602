import { AppConfig } from '@app/config';
import { MetricsService } from '../../metrics/metrics.service';
import { PriceCatalog } from '../price-catalog';
import type { BudgetOverrideLookup, UserBudgetLimits } from './budget-overrides';
import { MemoryBudgetStore, type BudgetStore } from './budget-store';
import { BudgetExceededError, BudgetUnavailableError } from './budget.errors';
import { BUDGET_LEASE_MS, BudgetService } from './budget.service';

const SECRET = 'k3Jq9vX2mW8pL5tR7yB4nC6dF1gH0sZa';
// groq/llama-3.1-8b-instant: 0.05 in, 0.08 out per 1M → 1000 prompt + 1000 reply = 130 µ$.
const MODEL = 'groq/llama-3.1-8b-instant';
const NOON = new Date('2026-11-15T12:00:00.000Z');

class Overrides implements BudgetOverrideLookup {
  readonly byUser = new Map<string, UserBudgetLimits>();
  async find(userId: string) {
    return this.byUser.get(userId) ?? null;
  }
}

describe(BudgetService.name, () => {
  let overrides: Overrides;
  let metrics: MetricsService;
  const make = (env: Record<string, string>, store: BudgetStore = new MemoryBudgetStore()) => {
    const config = AppConfig.fromEnv({ SECRET_KEY: SECRET, ...env });
    return new BudgetService(config, new PriceCatalog(config), store, overrides, metrics);
  };

  beforeEach(() => {
    overrides = new Overrides();
    metrics = new MetricsService();
  });

  it('reserves nothing for a user without any budget', async () => {
    const sut = make({});
    expect(await sut.reserve('u1', MODEL, 1000, 1000, NOON)).toBeUndefined();
  });

  it('is exact in memory: of 50 concurrent reservations, exactly the 10 that fit pass', async () => {
    const sut = make({ BUDGET__USD_PER_DAY: '0.0013' }); // 1300 µ$ = 10 × 130
    const outcomes = await Promise.allSettled(
      Array.from({ length: 50 }, () => sut.reserve('u1', MODEL, 1000, 1000, NOON)),
    );
    expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(10);
    const refused = outcomes.find((o) => o.status === 'rejected') as PromiseRejectedResult;
    expect(refused.reason).toBeInstanceOf(BudgetExceededError);
    expect(refused.reason.status).toBe(429);
    expect(refused.reason.retryAfterSeconds).toBe(12 * 3600);
    expect(refused.reason.message).toBe(
      'Daily spending limit of $0.0013 reached; it resets at 00:00 UTC',
    );
    expect(await metrics.metrics()).toContain('chatbot_budget_rejections_total{period="day"} 40');
  });

  it('settles to the real cost, which frees the rest of the reservation', async () => {
    const sut = make({ BUDGET__USD_PER_DAY: '0.0002' }); // 200 µ$
    const first = await sut.reserve('u1', MODEL, 1000, 1000, NOON); // 130 reserved
    await expect(sut.reserve('u1', MODEL, 1000, 1000, NOON)).rejects.toThrow(
      'Daily spending limit of $0.0002 would be exceeded: this request may cost up to $0.00013 and $0.00007 is left; it resets at 00:00 UTC',
    );
    await sut.settle(first, 30);
    expect(await sut.reserve('u1', MODEL, 1000, 1000, NOON)).toBeDefined(); // 30 + 130 ≤ 200
    await sut.release(first);
  });

  it('names the monthly limit and the first day of next month when that one refuses', async () => {
    const sut = make({ BUDGET__USD_PER_DAY: '1', BUDGET__USD_PER_MONTH: '0.0001' });
    const error = await sut.reserve('u1', MODEL, 1000, 1000, NOON).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BudgetExceededError);
    expect((error as BudgetExceededError).period).toBe('month');
    expect((error as Error).message).toMatch(
      /^Monthly spending limit of \$0\.0001 would be exceeded.*it resets on 2026-12-01 at 00:00 UTC$/,
    );
  });

  it('a per-user override replaces the default; 0 lifts the limit; null keeps the default', async () => {
    const sut = make({ BUDGET__USD_PER_DAY: '0.0001' });
    overrides.byUser.set('rich', { usdPerDay: 0, usdPerMonth: null });
    overrides.byUser.set('poor', { usdPerDay: null, usdPerMonth: 0.00001 });
    expect(await sut.reserve('rich', MODEL, 1000, 1000, NOON)).toBeUndefined();
    await expect(sut.reserve('poor', MODEL, 1000, 1000, NOON)).rejects.toThrow(/^Daily/);
    overrides.byUser.set('solo', { usdPerDay: 0.001, usdPerMonth: null });
    const noDefault = make({});
    expect(await noDefault.reserve('solo', MODEL, 1000, 1000, NOON)).toMatchObject({
      reservedMicros: 130,
    });
  });

  it('an unpriced model reserves nothing but is refused once the budget is used up', async () => {
    const sut = make({ BUDGET__USD_PER_DAY: '0.0001' });
    expect(await sut.reserve('u1', 'groq/unpriced', 1000, 1000, NOON)).toMatchObject({
      reservedMicros: 0,
    });
    const spent = await sut.reserve('u1', MODEL, 10, 10, NOON);
    await sut.settle(spent, 100);
    await expect(sut.reserve('u1', 'groq/unpriced', 1, 1, NOON)).rejects.toThrow(/reached/);
  });

  it('charges an unreserved call (a generated title) to the counters, whatever the limit', async () => {
    const sut = make({ BUDGET__USD_PER_DAY: '0.0002' });
    await sut.charge('u1', 150, NOON);
    await expect(sut.reserve('u1', MODEL, 1000, 1000, NOON)).rejects.toThrow(/\$0\.00005 is left/);
    await sut.charge('u1', 100, NOON);
    await expect(sut.reserve('u1', 'groq/unpriced', 1, 1, NOON)).rejects.toThrow(/reached/);
  });

  it('settles a held reservation of an interrupted reply to what was produced, once', async () => {
    const sut = make({ BUDGET__USD_PER_DAY: '0.0002' }); // 200 µ$
    const owner = await sut.reserve('u1', MODEL, 1000, 1000, NOON); // 130 reserved
    await sut.hold(owner, 'reply-1');
    // The owner died; its reply had 250 tokens: 1000 × 0.05 + 250 × 0.08 = 70 µ$.
    expect(await sut.settleInterrupted('reply-1', 250)).toEqual({
      costMicros: 70,
      promptTokens: 1000,
    });
    expect(await sut.settleInterrupted('reply-1', 250)).toBeUndefined();
    expect(await sut.reserve('u1', MODEL, 1000, 1000, NOON)).toBeDefined(); // 70 + 130 ≤ 200
    // The owner's own settlement coming late changes nothing (it would give 130 back).
    await sut.release(owner);
    await expect(sut.reserve('u1', 'groq/unpriced', 1, 1, NOON)).rejects.toThrow(/reached/);
  });

  it('a reservation the owner settled is not settled again by the sweeper', async () => {
    const sut = make({ BUDGET__USD_PER_DAY: '0.0002' });
    const owner = await sut.reserve('u1', MODEL, 1000, 1000, NOON);
    await sut.hold(owner, 'reply-2');
    await sut.settle(owner, 200);
    expect(await sut.settleInterrupted('reply-2', 0)).toBeUndefined();
    await expect(sut.reserve('u1', 'groq/unpriced', 1, 1, NOON)).rejects.toThrow(/reached/);
    // A memory store that died with its process holds nothing: nothing is given back.
    expect(await make({ BUDGET__USD_PER_DAY: '1' }).settleInterrupted('reply-2', 5)).toBe(
      undefined,
    );
  });

  it('settles a leased reservation to its prompt once its lease ran out, once', async () => {
    const sut = make({ BUDGET__USD_PER_DAY: '0.0002' }); // 200 µ$
    const call = await sut.reserve('u1', MODEL, 1000, 1000, NOON); // 130 reserved
    await sut.holdLeased(call, 'v1:call-1');
    // Renewed while the call runs: nothing to settle yet.
    expect(await sut.settleExpiredLeases(Date.now())).toBe(0);
    await expect(sut.reserve('u1', MODEL, 1000, 1000, NOON)).rejects.toThrow(/would be exceeded/);
    // Its instance died: after the lease, the prompt (1000 × 0.05 = 50 µ$) stays spent.
    expect(await sut.settleExpiredLeases(Date.now() + BUDGET_LEASE_MS + 1)).toBe(1);
    expect(await sut.settleExpiredLeases(Date.now() + BUDGET_LEASE_MS + 1)).toBe(0);
    expect(await sut.reserve('u1', MODEL, 1000, 1000, NOON)).toBeDefined(); // 50 + 130 ≤ 200
    await sut.settle(call, 130); // the owner coming late changes nothing
    await expect(sut.reserve('u1', MODEL, 1, 100, NOON)).resolves.toBeDefined(); // 180 + 8 ≤ 200
  });

  it('a leased reservation its owner settled leaves nothing for the sweep', async () => {
    const sut = make({ BUDGET__USD_PER_DAY: '0.0002' });
    const call = await sut.reserve('u1', MODEL, 1000, 1000, NOON);
    await sut.holdLeased(call, 'v1:call-2');
    expect(call?.leaseRenewal).toBeDefined();
    await sut.settle(call, 60);
    expect(await sut.settleExpiredLeases(Date.now() + BUDGET_LEASE_MS + 1)).toBe(0);
    expect(await sut.reserve('u1', MODEL, 1000, 1000, NOON)).toBeDefined(); // 60 + 130 ≤ 200
  });

  describe('with the store down', () => {
    const down: BudgetStore = {
      reserve: () => Promise.reject(new Error('Connection is closed.')),
      adjust: () => Promise.reject(new Error('Connection is closed.')),
      hold: () => Promise.reject(new Error('Connection is closed.')),
      renewLease: () => Promise.reject(new Error('Connection is closed.')),
      expiredLeases: () => Promise.reject(new Error('Connection is closed.')),
      take: () => Promise.reject(new Error('Connection is closed.')),
    };

    it('closed (default): refuses with 503 and counts it', async () => {
      const sut = make({ BUDGET__USD_PER_DAY: '1' }, down);
      await expect(sut.reserve('u1', MODEL, 1, 1, NOON)).rejects.toBeInstanceOf(
        BudgetUnavailableError,
      );
      expect(await metrics.metrics()).toContain(
        'chatbot_budget_store_unavailable_total{mode="closed"} 1',
      );
    });

    it('open: lets the request through, counts it, and settling does not throw', async () => {
      const sut = make({ BUDGET__USD_PER_DAY: '1', BUDGET__REDIS_DOWN: 'open' }, down);
      expect(await sut.reserve('u1', MODEL, 1, 1, NOON)).toBeUndefined();
      const reservation = { userId: 'u1', counters: [], reservedMicros: 1, model: MODEL };
      await sut.hold({ ...reservation, promptTokens: 1 }, 'reply');
      await sut.settle({ ...reservation, promptTokens: 1, heldAs: 'reply' }, 5);
      expect(await sut.settleInterrupted('reply', 1)).toBeUndefined();
      expect(await metrics.metrics()).toContain(
        'chatbot_budget_store_unavailable_total{mode="open"} 1',
      );
    });
  });
});
