import { KeyPool } from './key-pool';

describe(KeyPool.name, () => {
  let now: number;
  const pool = (keys: string[], threshold = 2) =>
    new KeyPool(keys, { breakerThreshold: threshold, breakerCooldownMs: 1000, now: () => now });

  beforeEach(() => {
    now = 10_000;
  });

  it('round-robins over healthy keys', () => {
    const sut = pool(['a', 'b', 'c']);
    expect([1, 2, 3, 4, 5].map(() => sut.acquire()!.key)).toEqual(['a', 'b', 'c', 'a', 'b']);
  });

  it('a provider without keys has one keyless slot', () => {
    const sut = pool([]);
    expect(sut.slots).toHaveLength(1);
    expect(sut.acquire()!.key).toBeUndefined();
  });

  it('a disabled key (401/403) is never used again', () => {
    const sut = pool(['a', 'b']);
    sut.disable(sut.slots[0]);
    expect([1, 2, 3].map(() => sut.acquire()!.key)).toEqual(['b', 'b', 'b']);
    sut.disable(sut.slots[1]);
    expect(sut.acquire()).toBeUndefined();
    expect(sut.allDisabled()).toBe(true);
    expect(sut.readyInMs()).toBeUndefined();
  });

  it('a cooling key (429) is skipped until its Retry-After passed', () => {
    const sut = pool(['a', 'b']);
    sut.coolDown(sut.slots[0], 2000);
    expect([1, 2].map(() => sut.acquire()!.key)).toEqual(['b', 'b']);
    sut.coolDown(sut.slots[1], 500);
    expect(sut.acquire()).toBeUndefined();
    expect(sut.readyInMs()).toBe(500);
    now += 500;
    expect(sut.acquire()!.key).toBe('b');
    now += 1500;
    expect(sut.acquire()!.key).toBe('a');
  });

  it('each key has its own breaker', () => {
    const sut = pool(['a', 'b']);
    const a = sut.slots[0];
    a.breaker.onFailure();
    a.breaker.onFailure();
    expect([1, 2].map(() => sut.acquire()!.key)).toEqual(['b', 'b']);
    expect(sut.slots[1].breaker.currentState).toBe('closed');
    now += 1000;
    // Half-open: `a` gets its single trial, then `b` takes the traffic while it runs.
    expect([1, 2, 3].map(() => sut.acquire()!.key)).toEqual(['a', 'b', 'b']);
  });

  it('prefers keys not in `exclude`, but falls back to them', () => {
    const sut = pool(['a', 'b']);
    expect(sut.acquire(new Set([0]))!.key).toBe('b');
    expect(sut.acquire(new Set([0]))!.key).toBe('b');
    sut.disable(sut.slots[1]);
    expect(sut.acquire(new Set([0]))!.key).toBe('a');
  });
});
