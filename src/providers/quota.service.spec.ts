import { randomBytes } from 'node:crypto';
import { mapError, RateLimitedError } from '@app/common';
import { AppConfig } from '@app/config';
import { expectedLogs } from '@app/testing/expected-logs';
import { QuotaService, retryAfterMs } from './quota.service';
import { MemoryQuotaStore } from './quota/quota-store';
import type { UserQuotaOverrides } from './quota/user-quota-overrides';

function config(env: Record<string, string>): AppConfig {
  return AppConfig.fromEnv({ SECRET_KEY: randomBytes(32).toString('hex'), ...env });
}

describe(QuotaService.name, () => {
  it('lets N requests per minute through, then 429 with Retry-After; users are independent', async () => {
    const sut = new QuotaService(
      config({ QUOTA__REQUESTS_PER_MINUTE: '3' }),
      new MemoryQuotaStore(),
    );
    for (let i = 0; i < 3; i++) await sut.assertWithinQuota('alice');
    const error = await sut.assertWithinQuota('alice').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RateLimitedError);
    const mapped = mapError(error);
    expect(mapped.status).toBe(429);
    expect(mapped.body.detail).toBe('Too many chat requests: at most 3 per minute');
    expect(mapped.retryAfterSeconds).toBeGreaterThanOrEqual(1);
    expect(mapped.retryAfterSeconds).toBeLessThanOrEqual(120);
    await expect(sut.assertWithinQuota('bob')).resolves.toBeUndefined();
  });

  it("applies a user's own limits where an admin set them, the defaults elsewhere", async () => {
    const overrides = {
      overridesFor: (userId: string) =>
        Promise.resolve(userId === 'vip' ? { requestsPerMinute: 5, tokensPerDay: 10 } : {}),
    } as unknown as UserQuotaOverrides;
    const sut = new QuotaService(
      config({ QUOTA__REQUESTS_PER_MINUTE: '2' }),
      new MemoryQuotaStore(),
      undefined,
      overrides,
    );
    for (let i = 0; i < 5; i++) await sut.assertWithinQuota('vip');
    await expect(sut.assertWithinQuota('vip')).rejects.toThrow('at most 5 per minute');
    for (let i = 0; i < 2; i++) await sut.assertWithinQuota('plain');
    await expect(sut.assertWithinQuota('plain')).rejects.toThrow('at most 2 per minute');
    await sut.recordUsage('vip', 10);
    expect(await sut.tokensUsedToday('vip')).toBe(10);
    await expect(sut.assertWithinQuota('vip')).rejects.toThrow(
      'Daily token quota of 10 tokens used up',
    );
  });

  it('refuses once the daily token budget is used, until 00:00 UTC', async () => {
    const sut = new QuotaService(config({ QUOTA__TOKENS_PER_DAY: '100' }), new MemoryQuotaStore());
    await sut.assertWithinQuota('carol');
    await sut.recordUsage('carol', 60);
    await sut.assertWithinQuota('carol');
    await sut.recordUsage('carol', 40);
    const error = await sut.assertWithinQuota('carol').catch((e: unknown) => e);
    const mapped = mapError(error);
    expect(mapped.status).toBe(429);
    expect(mapped.body.detail).toBe(
      'Daily token quota of 100 tokens used up; it resets at 00:00 UTC',
    );
    const midnight = new Date();
    midnight.setUTCHours(24, 0, 0, 0);
    const expected = Math.ceil((midnight.getTime() - Date.now()) / 1000);
    expect(Math.abs(mapped.retryAfterSeconds! - expected)).toBeLessThanOrEqual(2);
  });

  it("counts a key's tokens in its own daily quota and in its user's; both apply", async () => {
    const sut = new QuotaService(config({ QUOTA__TOKENS_PER_DAY: '100' }), new MemoryQuotaStore());
    const small = { id: 'key-small', tokensPerDay: 30 };
    const other = { id: 'key-other', tokensPerDay: null };
    await sut.assertWithinQuota('erin', small);
    await sut.recordUsage('erin', 30, small.id);
    const refused = mapError(await sut.assertWithinQuota('erin', small).catch((e: unknown) => e));
    expect(refused.status).toBe(429);
    expect(refused.body.detail).toBe(
      "This API key's daily token quota of 30 tokens used up; it resets at 00:00 UTC",
    );
    expect(refused.retryAfterSeconds).toBeGreaterThanOrEqual(1);
    // The user's other key (no quota of its own) and the user without a key still get through.
    await sut.assertWithinQuota('erin', other);
    await sut.assertWithinQuota('erin');
    await sut.recordUsage('erin', 70, other.id);
    // Now the user's 100 are used up: every way in is refused, with the user's quota named.
    const user = mapError(await sut.assertWithinQuota('erin', other).catch((e: unknown) => e));
    expect(user.body.detail).toBe(
      'Daily token quota of 100 tokens used up; it resets at 00:00 UTC',
    );
  });

  it('gives keys without a quota of their own QUOTA__API_KEY_TOKENS_PER_DAY (0: none)', async () => {
    const keyed = new QuotaService(
      config({ QUOTA__API_KEY_TOKENS_PER_DAY: '10' }),
      new MemoryQuotaStore(),
    );
    const key = { id: 'key-default', tokensPerDay: null };
    await keyed.recordUsage('frank', 10, key.id);
    await expect(keyed.assertWithinQuota('frank', key)).rejects.toBeInstanceOf(RateLimitedError);
    // A key's own tokens_per_day wins over the default.
    await expect(
      keyed.assertWithinQuota('frank', { id: key.id, tokensPerDay: 20 }),
    ).resolves.toBeUndefined();

    const unlimited = new QuotaService(config({}), new MemoryQuotaStore());
    await unlimited.recordUsage('gina', 10_000, key.id);
    await expect(unlimited.assertWithinQuota('gina', key)).resolves.toBeUndefined();
  });

  it('ignores empty or invalid usage', async () => {
    const store = new MemoryQuotaStore();
    const sut = new QuotaService(config({}), store);
    await sut.recordUsage('dave', 0);
    await sut.recordUsage('dave', Number.NaN);
    await sut.recordUsage('dave', -5);
    const day = new Date().toISOString().slice(0, 10);
    expect(await store.get(`tokens:dave:${day}`)).toBe(0);
  });
});

describe(`${QuotaService.name} with a failing store`, () => {
  it('lets requests through and does not throw when the store is down', async () => {
    const broken = new MemoryQuotaStore();
    const failure = () => Promise.reject(new Error('connection refused'));
    broken.hitWindow = failure;
    broken.get = failure;
    broken.add = failure;
    const sut = new QuotaService(config({}), broken);
    const errors = expectedLogs('error');
    try {
      await expect(sut.assertWithinQuota('erin')).resolves.toBeUndefined();
      await expect(sut.recordUsage('erin', 10)).resolves.toBeUndefined();
      expect(errors.messages).toEqual([
        'Quota store unavailable; request let through',
        'Quota store unavailable; usage not recorded',
      ]);
    } finally {
      errors.restore();
    }
  });
});

describe('retryAfterMs (sliding window)', () => {
  it('waits until enough of the previous minute slid out', () => {
    // limit 10, previous minute 10, current 5, at 20 s: estimate 10*(2/3)+5 ≈ 11.7.
    // One more fits when 10*(1-t)+5 ≤ 9 → t ≥ 0.6 → 0.6*60 s - 20 s = 16 s.
    expect(retryAfterMs(5, 10, 10, 1 / 3)).toBeCloseTo(16_000, -1);
  });

  it('waits for the next minute when the current one alone is full', () => {
    // limit 10, current 10 at 30 s: next minute starts in 30 s; then 10*(1-t) ≤ 9 → t ≥ 0.1 → +6 s.
    expect(retryAfterMs(10, 0, 10, 0.5)).toBeCloseTo(36_000, -1);
  });
});

describe(MemoryQuotaStore.name, () => {
  it('expires counters after their ttl', async () => {
    let now = 0;
    const sut = new MemoryQuotaStore(() => now);
    expect(await sut.add('k', 5, 1000)).toBe(5);
    expect(await sut.add('k', 2, 1000)).toBe(7);
    now = 999;
    expect(await sut.get('k')).toBe(7);
    now = 1000;
    expect(await sut.get('k')).toBe(0);
  });

  it('counts a window hit only when the weighted estimate stays within the limit', async () => {
    const sut = new MemoryQuotaStore(() => 0);
    await sut.add('prev', 4, 10_000);
    expect(await sut.hitWindow('cur', 'prev', 5, 0.5, 10_000)).toEqual({
      allowed: true,
      current: 1,
      previous: 4,
    });
    expect(await sut.hitWindow('cur', 'prev', 5, 0.5, 10_000)).toEqual({
      allowed: true,
      current: 2,
      previous: 4,
    });
    expect(await sut.hitWindow('cur', 'prev', 5, 0.5, 10_000)).toEqual({
      allowed: true,
      current: 3,
      previous: 4,
    });
    expect(await sut.hitWindow('cur', 'prev', 5, 0.5, 10_000)).toEqual({
      allowed: false,
      current: 3,
      previous: 4,
    });
  });
});
