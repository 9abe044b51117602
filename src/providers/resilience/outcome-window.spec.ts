import { OUTCOME_WINDOW_MS, OutcomeWindow } from './outcome-window';

describe(OutcomeWindow.name, () => {
  it('counts attempts and errors of the last five minutes, forgetting older ones', () => {
    let now = 1_000_000;
    const sut = new OutcomeWindow(() => now);
    expect(sut.snapshot()).toEqual({ attempts: 0, errors: 0, errorRate: 0 });

    sut.record(false);
    sut.record(true);
    now += 60_000;
    sut.record(true);
    sut.record(false);
    expect(sut.snapshot()).toEqual({ attempts: 4, errors: 2, errorRate: 0.5 });

    now += OUTCOME_WINDOW_MS - 30_000;
    expect(sut.snapshot()).toEqual({ attempts: 2, errors: 1, errorRate: 0.5 });
    sut.record(true);
    expect(sut.snapshot()).toEqual({ attempts: 3, errors: 2, errorRate: 2 / 3 });

    now += OUTCOME_WINDOW_MS;
    expect(sut.snapshot()).toEqual({ attempts: 0, errors: 0, errorRate: 0 });
  });
});
