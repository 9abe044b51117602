import { MemoryThrottlerStorage } from './memory-throttler-storage';

describe(MemoryThrottlerStorage.name, () => {
  let sut: MemoryThrottlerStorage;

  beforeEach(() => {
    jest.useFakeTimers({ now: new Date('2026-12-01T12:00:00Z') });
    sut = new MemoryThrottlerStorage();
  });
  afterEach(() => {
    sut.onModuleDestroy();
    jest.useRealTimers();
  });

  it('counts hits in a fixed window from the first hit, then blocks for blockDuration once over the limit', async () => {
    expect(await sut.increment('k', 60_000, 2, 30_000, 'default')).toEqual({
      totalHits: 1,
      timeToExpire: 60,
      isBlocked: false,
      timeToBlockExpire: 0,
    });
    jest.advanceTimersByTime(10_000);
    expect(await sut.increment('k', 60_000, 2, 30_000, 'default')).toMatchObject({
      totalHits: 2,
      timeToExpire: 50,
      isBlocked: false,
    });
    expect(await sut.increment('k', 60_000, 2, 30_000, 'default')).toEqual({
      totalHits: 3,
      timeToExpire: 50,
      isBlocked: true,
      timeToBlockExpire: 30,
    });
    jest.advanceTimersByTime(20_000);
    expect(await sut.increment('k', 60_000, 2, 30_000, 'default')).toMatchObject({
      isBlocked: true,
      timeToBlockExpire: 10,
    });
  });

  it('starts a new window (and lifts the block) once both ran out, per key and throttler name', async () => {
    for (let i = 0; i < 3; i++) await sut.increment('k', 60_000, 2, 60_000, 'default');
    expect((await sut.increment('k', 60_000, 2, 60_000, 'auth')).totalHits).toBe(1);
    expect((await sut.increment('other', 60_000, 2, 60_000, 'default')).totalHits).toBe(1);

    jest.advanceTimersByTime(60_000);
    expect(await sut.increment('k', 60_000, 2, 60_000, 'default')).toEqual({
      totalHits: 1,
      timeToExpire: 60,
      isBlocked: false,
      timeToBlockExpire: 0,
    });
  });

  it('blocks at once with limit 0 and keeps a block longer than the window', async () => {
    expect(await sut.increment('lock', 1_000, 0, 5_000, 'login-lock')).toMatchObject({
      isBlocked: true,
      timeToBlockExpire: 5,
    });
    jest.advanceTimersByTime(2_000);
    expect(
      await sut.increment('lock', 1_000, Number.MAX_SAFE_INTEGER, 5_000, 'login-lock'),
    ).toMatchObject({ totalHits: 1, isBlocked: true, timeToBlockExpire: 3 });
  });
});
