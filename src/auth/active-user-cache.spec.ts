import { ActiveUserCache } from './active-user-cache';

describe(ActiveUserCache.name, () => {
  const alice = { id: 'a', email: 'a@example.com', role: 'user' as const };
  const bob = { id: 'b', email: 'b@example.com', role: 'admin' as const };

  afterEach(() => jest.useRealTimers());

  it('keeps nothing before it is opened and after it is closed', () => {
    const sut = new ActiveUserCache();
    sut.remember(sut.stamp(), alice);
    expect(sut.get('a')).toBeUndefined();

    sut.open();
    const stamp = sut.stamp();
    sut.remember(stamp, alice);
    expect(sut.get('a')).toEqual(alice);

    sut.close();
    expect(sut.get('a')).toBeUndefined();
    sut.remember(stamp, alice);
    expect(sut.get('a')).toBeUndefined();
  });

  it('drops a read stamped before any change, and forgets only the changed account', () => {
    const sut = new ActiveUserCache();
    sut.open();
    const before = sut.stamp();
    sut.remember(sut.stamp(), bob);
    sut.forget('someone else');
    sut.remember(before, alice);
    expect(sut.get('a')).toBeUndefined();
    expect(sut.get('b')).toEqual(bob);

    sut.forget('b');
    expect(sut.get('b')).toBeUndefined();
    sut.remember(sut.stamp(), alice);
    sut.forgetAll();
    expect(sut.get('a')).toBeUndefined();
  });

  it('lets an entry expire after TTL_MS', () => {
    jest.useFakeTimers({ now: 1_000_000 });
    const sut = new ActiveUserCache();
    sut.open();
    sut.remember(sut.stamp(), alice);
    jest.advanceTimersByTime(ActiveUserCache.TTL_MS - 1);
    expect(sut.get('a')).toEqual(alice);
    jest.advanceTimersByTime(1);
    expect(sut.get('a')).toBeUndefined();
  });

  it('holds at most CAPACITY accounts, dropping the oldest first', () => {
    const sut = new ActiveUserCache();
    sut.open();
    for (let i = 0; i <= ActiveUserCache.CAPACITY; i += 1) {
      sut.remember(sut.stamp(), { ...alice, id: `u${i}` });
    }
    expect(sut.get('u0')).toBeUndefined();
    expect(sut.get('u1')).toBeDefined();
    expect(sut.get(`u${ActiveUserCache.CAPACITY}`)).toBeDefined();
  });
});
