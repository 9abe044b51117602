import { CircuitBreaker, type CircuitState } from './circuit-breaker';

describe(CircuitBreaker.name, () => {
  let now: number;
  let changes: CircuitState[];
  let sut: CircuitBreaker;

  beforeEach(() => {
    now = 1_000;
    changes = [];
    sut = new CircuitBreaker(
      3,
      500,
      () => now,
      (state) => changes.push(state),
    );
  });

  it('stays closed below the threshold; a success resets the count', () => {
    sut.onFailure();
    sut.onFailure();
    sut.onSuccess();
    sut.onFailure();
    sut.onFailure();
    expect(sut.currentState).toBe('closed');
    expect(sut.tryAcquire()).toBe(true);
  });

  it('opens after N consecutive failures and fails fast during the cooldown', () => {
    sut.onFailure();
    sut.onFailure();
    sut.onFailure();
    expect(sut.currentState).toBe('open');
    expect(sut.tryAcquire()).toBe(false);
    expect(sut.readyInMs()).toBe(500);
    now += 499;
    expect(sut.tryAcquire()).toBe(false);
    expect(changes).toEqual(['open']);
  });

  it('half-opens after the cooldown and lets exactly one trial through', () => {
    for (let i = 0; i < 3; i++) sut.onFailure();
    now += 500;
    expect(sut.currentState).toBe('half_open');
    expect(sut.tryAcquire()).toBe(true);
    expect(sut.tryAcquire()).toBe(false);
    expect(sut.readyInMs()).toBeUndefined();
    sut.onSuccess();
    expect(sut.currentState).toBe('closed');
    expect(sut.tryAcquire()).toBe(true);
    expect(changes).toEqual(['open', 'half_open', 'closed']);
  });

  it('a failed trial opens the circuit again for a full cooldown', () => {
    for (let i = 0; i < 3; i++) sut.onFailure();
    now += 500;
    expect(sut.tryAcquire()).toBe(true);
    sut.onFailure();
    expect(sut.currentState).toBe('open');
    expect(sut.readyInMs()).toBe(500);
    expect(changes).toEqual(['open', 'half_open', 'open']);
  });

  it('a released trial (aborted call) lets another trial go', () => {
    for (let i = 0; i < 3; i++) sut.onFailure();
    now += 500;
    expect(sut.tryAcquire()).toBe(true);
    sut.release();
    expect(sut.tryAcquire()).toBe(true);
  });
});
