import Redis from 'ioredis';
import { randomUUID } from 'node:crypto';
import { describeWithServices, serviceUrl } from '@app/testing';
import { expectedLogs } from '@app/testing/expected-logs';
import { FailoverIdempotencyStore } from './failover-idempotency-store';
import type { StoredChatResult } from './idempotency-store';
import { MemoryIdempotencyStore } from './memory-idempotency-store';
import { RedisIdempotencyStore } from './redis-idempotency-store';

const result: StoredChatResult = {
  session_id: 's1',
  message_id: 'm2',
  reply: 'Hello there',
  model: 'local/echo',
  usage: { prompt_tokens: 10, completion_tokens: 3, tokens: 13 },
  finish_reason: 'stop',
  created_at: '2026-01-01T00:00:00.000Z',
};

describeWithServices(['redis'], FailoverIdempotencyStore.name, () => {
  let up: Redis;
  let down: Redis;
  const prefix = `test:failover-idem:${randomUUID()}:`;

  beforeAll(async () => {
    up = new Redis(serviceUrl('redis')!);
    // A connection that is gone: every command fails at once, as during a Redis outage.
    down = new Redis(serviceUrl('redis')!, { lazyConnect: true, enableOfflineQueue: false });
    down.disconnect();
  });
  afterAll(async () => {
    await up.quit();
  });
  afterEach(() => jest.restoreAllMocks());

  it('keeps claims and results in process while Redis is unreachable', async () => {
    const warnings = expectedLogs('warn');
    const sut = new FailoverIdempotencyStore(
      new RedisIdempotencyStore(down, prefix),
      new MemoryIdempotencyStore(),
    );
    expect(await sut.claim('k1', 'fp', 60)).toBeNull();
    expect(await sut.claim('k1', 'fp', 60)).toEqual({ state: 'running', fingerprint: 'fp' });
    await sut.complete('k1', 'fp', result, 60);
    expect(await sut.claim('k1', 'fp', 60)).toEqual({ state: 'done', fingerprint: 'fp', result });

    expect(await sut.claim('k2', 'fp', 60)).toBeNull();
    await sut.release('k2');
    expect(await sut.claim('k2', 'fp', 60)).toBeNull();
    await sut.close();
    expect(warnings.messages).toContain(
      'Redis unavailable: Idempotency-Key results are kept in this process until it is back',
    );
  });

  it('uses Redis when it answers', async () => {
    const sut = new FailoverIdempotencyStore(
      new RedisIdempotencyStore(up, prefix),
      new MemoryIdempotencyStore(),
    );
    expect(await sut.claim('k3', 'fp', 60)).toBeNull();
    await sut.complete('k3', 'fp', result, 60);
    expect(JSON.parse((await up.get(`${prefix}k3`))!)).toEqual({
      state: 'done',
      fingerprint: 'fp',
      result,
    });
    await up.del(`${prefix}k3`);
    await sut.close();
  });
});
