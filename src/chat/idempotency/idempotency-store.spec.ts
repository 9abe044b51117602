import Redis from 'ioredis';
import { randomUUID } from 'node:crypto';
import { describeWithServices, serviceUrl } from '@app/testing';
import type { IdempotencyStore, StoredChatResult } from './idempotency-store';
import { MemoryIdempotencyStore } from './memory-idempotency-store';
import { RedisIdempotencyStore } from './redis-idempotency-store';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const result: StoredChatResult = {
  session_id: 's1',
  message_id: 'm2',
  reply: 'Hello there',
  model: 'local/echo',
  usage: { prompt_tokens: 10, completion_tokens: 3, tokens: 13 },
  finish_reason: 'stop',
  created_at: '2026-01-01T00:00:00.000Z',
};

function storeContract(make: () => IdempotencyStore) {
  let sut: IdempotencyStore;
  beforeEach(() => {
    sut = make();
  });
  afterEach(() => sut.close());

  it('claims a new key, then reports it running, then done with the result', async () => {
    const key = randomUUID();
    expect(await sut.claim(key, 'fp', 60)).toBeNull();
    expect(await sut.claim(key, 'fp', 60)).toEqual({ state: 'running', fingerprint: 'fp' });
    await sut.complete(key, 'fp', result, 60);
    expect(await sut.claim(key, 'other', 60)).toEqual({
      state: 'done',
      fingerprint: 'fp',
      result,
    });
  });

  it('forgets a released claim', async () => {
    const key = randomUUID();
    await sut.claim(key, 'fp', 60);
    await sut.release(key);
    expect(await sut.claim(key, 'fp', 60)).toBeNull();
  });

  it('lets exactly one of many concurrent claims win', async () => {
    const key = randomUUID();
    const claims = await Promise.all(Array.from({ length: 10 }, () => sut.claim(key, 'fp', 60)));
    expect(claims.filter((claim) => claim === null)).toHaveLength(1);
  });

  it('expires results after their ttl', async () => {
    const key = randomUUID();
    await sut.claim(key, 'fp', 60);
    await sut.complete(key, 'fp', result, 1);
    await sleep(1_100);
    expect(await sut.claim(key, 'fp', 60)).toBeNull();
  });
}

describe(MemoryIdempotencyStore.name, () => {
  storeContract(() => new MemoryIdempotencyStore());
});

describeWithServices(['redis'], RedisIdempotencyStore.name, () => {
  let redis: Redis;
  beforeAll(() => {
    redis = new Redis(serviceUrl('redis')!);
  });
  afterAll(() => redis.quit());
  storeContract(() => new RedisIdempotencyStore(redis, `test:idem:${randomUUID()}:`));
});
