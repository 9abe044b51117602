import { fullJitterBackoff, retryDelay } from './backoff';

describe('fullJitterBackoff', () => {
  it('draws uniformly from [0, min(cap, base * 2^(retry-1))]', () => {
    expect(fullJitterBackoff(1, 100, 10_000, () => 0.999)).toBe(99);
    expect(fullJitterBackoff(2, 100, 10_000, () => 0.5)).toBe(100);
    expect(fullJitterBackoff(4, 100, 10_000, () => 0.5)).toBe(400);
    expect(fullJitterBackoff(3, 100, 10_000, () => 0)).toBe(0);
  });

  it('never exceeds the cap, even for huge retry counts', () => {
    expect(fullJitterBackoff(10, 100, 1000, () => 0.999)).toBe(999);
    expect(fullJitterBackoff(500, 100, 1000, () => 0.999)).toBe(999);
  });

  it('spreads retries (full jitter)', () => {
    const samples = Array.from({ length: 200 }, () => fullJitterBackoff(5, 100, 10_000));
    expect(Math.min(...samples)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...samples)).toBeLessThan(1600);
    expect(new Set(samples).size).toBeGreaterThan(50);
  });
});

describe('retryDelay', () => {
  it('honours Retry-After, capped', () => {
    expect(retryDelay(1, 1500, 100, 8000, () => 0)).toBe(1500);
    expect(retryDelay(1, 60_000, 100, 8000, () => 0)).toBe(8000);
    expect(retryDelay(1, -5, 100, 8000, () => 0)).toBe(0);
  });

  it('falls back to full jitter without Retry-After', () => {
    expect(retryDelay(2, undefined, 100, 8000, () => 0.5)).toBe(100);
  });
});
