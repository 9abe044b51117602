import { Logger } from '@nestjs/common';
import type { HistoryService } from '../../history/history.service';
import { MetricsService } from '../../metrics/metrics.service';
import type { LockHandle } from '../locks/in-flight-lock';
import { MAX_WAITING_WRITES, ReplyWriteRetrier } from './reply-write-retrier';

const write = (i: number, lock: LockHandle) => ({
  sessionId: `s${i}`,
  messageId: `m${i}`,
  patch: { content: `reply ${i}`, status: 'complete' as const },
  lock,
});

describe(ReplyWriteRetrier.name, () => {
  let finishReply: jest.Mock;
  let metrics: MetricsService;
  let sut: ReplyWriteRetrier;

  beforeEach(() => {
    jest.useFakeTimers();
    finishReply = jest.fn().mockRejectedValue(new Error('database down'));
    metrics = new MetricsService();
    sut = new ReplyWriteRetrier({ finishReply } as unknown as HistoryService, metrics);
    for (const level of ['log', 'warn', 'error', 'debug'] as const) {
      jest.spyOn(Logger.prototype, level).mockImplementation(() => undefined);
    }
  });
  afterEach(async () => {
    await sut.onApplicationShutdown();
    jest.useRealTimers();
    jest.restoreAllMocks();
  });

  it('retries with growing delays until the store is back, then frees the lock', async () => {
    const lock = { release: jest.fn().mockResolvedValue(undefined) };
    sut.retry(write(1, lock));
    await jest.advanceTimersByTimeAsync(500 + 1_000 + 2_000);
    expect(finishReply).toHaveBeenCalledTimes(3);
    expect(lock.release).not.toHaveBeenCalled();

    finishReply.mockResolvedValue(undefined);
    await jest.advanceTimersByTimeAsync(4_000);
    expect(finishReply).toHaveBeenCalledTimes(4);
    expect(finishReply).toHaveBeenLastCalledWith('s1', 'm1', write(1, lock).patch);
    expect(lock.release).toHaveBeenCalledTimes(1);
    expect(sut.size).toBe(0);
    const text = await metrics.metrics();
    expect(text).toMatch(/chatbot_reply_write_retries_total\{outcome="queued"\} 1/);
    expect(text).toMatch(/chatbot_reply_write_retries_total\{outcome="stored"\} 1/);
    expect(text).toMatch(/chatbot_reply_writes_waiting 0/);
  });

  it('stays bounded: past the limit the oldest write is given up and its lock freed', async () => {
    const locks = Array.from({ length: MAX_WAITING_WRITES + 1 }, () => ({
      release: jest.fn().mockResolvedValue(undefined),
    }));
    locks.forEach((lock, i) => sut.retry(write(i, lock)));

    expect(sut.size).toBe(MAX_WAITING_WRITES);
    expect(locks[0].release).toHaveBeenCalledTimes(1);
    expect(locks[1].release).not.toHaveBeenCalled();
    expect(await metrics.metrics()).toMatch(
      /chatbot_reply_write_retries_total\{outcome="dropped"\} 1/,
    );
  });

  it('gives every waiting write up at shutdown, freeing the locks', async () => {
    const lock = { release: jest.fn().mockResolvedValue(undefined) };
    sut.retry(write(1, lock));
    await sut.onApplicationShutdown();
    expect(lock.release).toHaveBeenCalledTimes(1);
    expect(sut.size).toBe(0);
  });
});
