import { dayNumber, dayOfNumber, SPAN_LEVELS, spansOf } from './usage-sql';

describe(spansOf.name, () => {
  const covered = (first: number, last: number) => {
    const spans = spansOf(first, last);
    const all = spans
      .flatMap(({ level, start }) => {
        expect(start % 2 ** level).toBe(0);
        return Array.from({ length: 2 ** level }, (_, i) => start + i);
      })
      .sort((a, b) => a - b);
    return { all, pieces: spans.length };
  };

  it('covers every range of up to 366 days exactly once, in few pieces', () => {
    const base = dayNumber('2026-01-01');
    let most = 0;
    for (const first of [base, base + 1, base + 17, base + 255, base + 300]) {
      for (let length = 1; length <= 366; length++) {
        const { all, pieces } = covered(first, first + length - 1);
        expect(all).toEqual(Array.from({ length }, (_, i) => first + i));
        most = Math.max(most, pieces);
      }
    }
    // At most one span per level on each side.
    expect(most).toBeLessThanOrEqual(2 * SPAN_LEVELS.length);
  });

  it('takes a 90-day range as a handful of spans', () => {
    expect(spansOf(dayNumber('2026-09-03'), dayNumber('2026-12-01')).length).toBeLessThanOrEqual(8);
    expect(dayOfNumber(dayNumber('2026-12-01'))).toBe('2026-12-01');
  });
});
