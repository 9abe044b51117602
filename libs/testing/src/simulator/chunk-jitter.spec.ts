import { jitteredDelay } from './provider-simulator';

describe('jitteredDelay (the simulator’s --chunk-jitter)', () => {
  it('keeps the delay as it is without jitter', () => {
    expect(jitteredDelay(20, 0, () => 0.9)).toBe(20);
  });

  it('draws from delay ± jitter, uniformly', () => {
    expect(jitteredDelay(20, 10, () => 0)).toBe(10);
    expect(jitteredDelay(20, 10, () => 0.5)).toBe(20);
    expect(jitteredDelay(20, 10, () => 0.999)).toBeCloseTo(29.98);
  });

  it('never goes below zero when the jitter is larger than the delay', () => {
    expect(jitteredDelay(5, 50, () => 0)).toBe(0);
    expect(jitteredDelay(5, 50, () => 0.999)).toBeCloseTo(9.99);
  });
});
