import Redis from 'ioredis';
import { randomUUID } from 'node:crypto';
import { describeWithServices, serviceUrl } from '@app/testing';
import { expectedLogs } from '@app/testing/expected-logs';
import { FailoverInFlightLock } from './failover-in-flight-lock';
import { MemoryInFlightLock } from './memory-in-flight-lock';
import { RedisInFlightLock } from './redis-in-flight-lock';

describeWithServices(['redis'], FailoverInFlightLock.name, () => {
  let up: Redis;
  let down: Redis;
  const prefix = `test:failover-lock:${randomUUID()}:`;

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

  it('takes the lock in process while Redis is unreachable, one holder at a time', async () => {
    const warnings = expectedLogs('warn');
    const sut = new FailoverInFlightLock(
      new RedisInFlightLock(down, prefix),
      new MemoryInFlightLock(),
    );
    const handle = await sut.acquire('session:1', 5_000);
    expect(handle).not.toBeNull();
    expect(await sut.acquire('session:1', 5_000)).toBeNull();
    expect(await sut.isHeld('session:1')).toBe(true);
    await handle!.release();
    expect(await sut.isHeld('session:1')).toBe(false);
    await sut.close();
    expect(warnings.messages).toContain(
      'Redis unavailable: session locks fall back to this process (one generation per session is enforced per instance only)',
    );
  });

  it('a lock taken in process during the outage still counts once Redis answers again', async () => {
    expectedLogs('warn'); // the same outage warning as in the test above
    const memory = new MemoryInFlightLock();
    const during = new FailoverInFlightLock(new RedisInFlightLock(down, prefix), memory);
    const held = await during.acquire('session:2', 5_000);
    expect(held).not.toBeNull();

    const after = new FailoverInFlightLock(new RedisInFlightLock(up, prefix), memory);
    expect(await after.acquire('session:2', 5_000)).toBeNull();
    expect(await after.isHeld('session:2')).toBe(true);
    await held!.release();

    const shared = await after.acquire('session:2', 5_000);
    expect(shared).not.toBeNull();
    // Now held in Redis, where every instance sees it.
    expect(await up.exists(`${prefix}session:2`)).toBe(1);
    await shared!.release();
    await after.close();
  });
});
