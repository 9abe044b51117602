import { randomBytes, randomUUID } from 'node:crypto';
import Redis from 'ioredis';
import { mapError, RateLimitedError } from '@app/common';
import { AppConfig } from '@app/config';
import { describeWithServices, serviceUrl } from '@app/testing';
import { QuotaService } from '../src/providers/quota.service';
import { RedisQuotaStore } from '../src/providers/quota/redis-quota-store';

/** Quotas on a real Redis: two QuotaService instances (two app instances) share the counts. */
describeWithServices(['redis'], 'QuotaService on Redis', () => {
  const connections: Redis[] = [];

  function instance(env: Record<string, string>): QuotaService {
    const redis = new Redis(serviceUrl('redis')!);
    connections.push(redis);
    const config = AppConfig.fromEnv({ SECRET_KEY: randomBytes(32).toString('hex'), ...env });
    return new QuotaService(config, new RedisQuotaStore(redis));
  }

  afterAll(async () => {
    await Promise.all(connections.map((redis) => redis.quit()));
  });

  it('requests per minute are counted across instances; the next one gets 429 with Retry-After', async () => {
    const env = { QUOTA__REQUESTS_PER_MINUTE: '4' };
    const a = instance(env);
    const b = instance(env);
    const user = randomUUID();
    await a.assertWithinQuota(user);
    await b.assertWithinQuota(user);
    await a.assertWithinQuota(user);
    await b.assertWithinQuota(user);
    const error = await a.assertWithinQuota(user).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RateLimitedError);
    const mapped = mapError(error);
    expect(mapped.status).toBe(429);
    expect(mapped.body).toEqual({ detail: 'Too many chat requests: at most 4 per minute' });
    expect(mapped.retryAfterSeconds).toBeGreaterThanOrEqual(1);
    expect(mapped.retryAfterSeconds).toBeLessThanOrEqual(120);
    // Another user is not affected.
    await expect(b.assertWithinQuota(randomUUID())).resolves.toBeUndefined();
  });

  it('concurrent requests never pass the limit (check-and-count is atomic)', async () => {
    const env = { QUOTA__REQUESTS_PER_MINUTE: '5' };
    const instances = [instance(env), instance(env), instance(env)];
    const user = randomUUID();
    const results = await Promise.allSettled(
      Array.from({ length: 15 }, (_, i) => instances[i % 3].assertWithinQuota(user)),
    );
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(5);
    expect(results.filter((r) => r.status === 'rejected')).toHaveLength(10);
  });

  it('tokens per UTC day are shared; the budget is refused once used, and the key expires', async () => {
    const env = { QUOTA__TOKENS_PER_DAY: '1000' };
    const a = instance(env);
    const b = instance(env);
    const user = randomUUID();
    await a.recordUsage(user, 600);
    await b.assertWithinQuota(user);
    await b.recordUsage(user, 400);
    const error = await a.assertWithinQuota(user).catch((e: unknown) => e);
    expect(mapError(error)).toMatchObject({
      status: 429,
      body: { detail: 'Daily token quota of 1000 tokens used up; it resets at 00:00 UTC' },
    });
    const redis = new Redis(serviceUrl('redis')!);
    try {
      const key = `chatbot:quota:tokens:${user}:${new Date().toISOString().slice(0, 10)}`;
      expect(await redis.get(key)).toBe('1000');
      const ttl = await redis.pttl(key);
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(2 * 86_400_000);
    } finally {
      await redis.quit();
    }
  });
});
