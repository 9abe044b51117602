import type { Logger } from '@nestjs/common';
import { OutageWarning } from './outage-warning';

describe(OutageWarning.name, () => {
  let warn: jest.Mock;
  let sut: OutageWarning;

  beforeEach(() => {
    jest.useFakeTimers({ now: new Date('2026-11-25T12:00:00Z') });
    warn = jest.fn();
    sut = new OutageWarning({ warn } as unknown as Logger, 'Redis unavailable');
  });

  afterEach(() => jest.useRealTimers());

  it('logs the first failure with its error', () => {
    const error = new Error('ECONNREFUSED');
    sut.log(error);
    expect(warn).toHaveBeenCalledTimes(1);
    expect(warn).toHaveBeenCalledWith({ err: error }, 'Redis unavailable');
  });

  it('stays quiet for 30 seconds, then logs again', () => {
    sut.log(new Error('first'));
    jest.advanceTimersByTime(29_999);
    sut.log(new Error('too soon'));
    expect(warn).toHaveBeenCalledTimes(1);
    jest.advanceTimersByTime(1);
    sut.log(new Error('again'));
    expect(warn).toHaveBeenCalledTimes(2);
    expect(warn).toHaveBeenLastCalledWith({ err: new Error('again') }, 'Redis unavailable');
  });
});
