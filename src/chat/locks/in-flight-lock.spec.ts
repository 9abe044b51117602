import Redis from 'ioredis';
import { randomUUID } from 'node:crypto';
import { describeWithServices, serviceUrl } from '@app/testing';
import type { InFlightLock } from './in-flight-lock';
import { MemoryInFlightLock } from './memory-in-flight-lock';
import { RedisInFlightLock } from './redis-in-flight-lock';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** One contract, both implementations. */
function lockContract(name: string, make: () => InFlightLock, teardown: () => Promise<void>) {
  describe(name, () => {
    let sut: InFlightLock;
    beforeEach(() => {
      sut = make();
    });
    afterEach(async () => {
      await sut.close();
    });
    afterAll(teardown);

    it('gives the lock to one holder at a time', async () => {
      const key = randomUUID();
      const first = await sut.acquire(key, 5_000);
      expect(first).not.toBeNull();
      expect(await sut.acquire(key, 5_000)).toBeNull();
      expect(await sut.isHeld(key)).toBe(true);
      await first!.release();
      expect(await sut.isHeld(key)).toBe(false);
      const second = await sut.acquire(key, 5_000);
      expect(second).not.toBeNull();
      await second!.release();
    });

    it('lets exactly one of many concurrent callers win', async () => {
      const key = randomUUID();
      const results = await Promise.all(Array.from({ length: 10 }, () => sut.acquire(key, 5_000)));
      expect(results.filter(Boolean)).toHaveLength(1);
      for (const handle of results) await handle?.release();
    });

    it('renews the lock while held, beyond its ttl', async () => {
      const key = randomUUID();
      // Renewed every ttl/3: a ttl of 1.5 s leaves 1 s of slack for a busy event loop.
      const handle = await sut.acquire(key, 1_500);
      await sleep(4_000);
      expect(await sut.acquire(key, 1_500)).toBeNull();
      await handle!.release();
    });

    it('never releases a lock that another holder took after expiry', async () => {
      const key = randomUUID();
      const old = await sut.acquire(key, 100);
      await sut.close(); // stops renewals: the lock expires like a crashed holder's
      await sleep(250);
      const fresh = await sut.acquire(key, 5_000);
      expect(fresh).not.toBeNull();
      await old!.release();
      expect(await sut.isHeld(key)).toBe(true);
      await fresh!.release();
    });
  });
}

lockContract(
  'MemoryInFlightLock',
  () => new MemoryInFlightLock(),
  async () => undefined,
);

describeWithServices(['redis'], 'RedisInFlightLock', () => {
  let redis: Redis;
  beforeAll(() => {
    redis = new Redis(serviceUrl('redis')!);
  });
  lockContract(
    'contract',
    () => new RedisInFlightLock(redis, `test:lock:${randomUUID()}:`),
    async () => {
      await redis.quit();
    },
  );
});
