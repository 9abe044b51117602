import { randomBytes } from 'node:crypto';
import { Logger } from '@nestjs/common';
import { AppConfig } from '@app/config';
import type { ReplyCheckpoint } from '../../history/history-store.interface';
import type { HistoryService } from '../../history/history.service';
import { ReplyCheckpointWriter } from './reply-checkpoint-writer';

const INTERVAL_MS = 30;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A store write the test ends when it wants (a slow store). */
interface HeldWrite {
  batch: ReplyCheckpoint[];
  finish(): void;
  fail(error: Error): void;
}

describe(ReplyCheckpointWriter.name, () => {
  let batches: ReplyCheckpoint[][];
  let held: HeldWrite[];
  /** While true, each write waits in `held` until finished. */
  let holdWrites: boolean;
  let checkpointReplies: jest.Mock<Promise<void>, [ReplyCheckpoint[]]>;
  let sut: ReplyCheckpointWriter;

  beforeEach(() => {
    batches = [];
    held = [];
    holdWrites = false;
    checkpointReplies = jest.fn((batch: ReplyCheckpoint[]) => {
      batches.push(batch);
      if (!holdWrites) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        held.push({ batch, finish: resolve, fail: reject });
      });
    });
    const config = AppConfig.fromEnv({
      SECRET_KEY: randomBytes(32).toString('hex'),
      CHAT__CHECKPOINT_MS: String(INTERVAL_MS),
    });
    sut = new ReplyCheckpointWriter({ checkpointReplies } as unknown as HistoryService, config);
  });

  /** Opens a reply whose first checkpoint, `content`, is then held in flight by a slow store. */
  async function heldInFlight(sessionId: string, messageId: string, content: string) {
    holdWrites = true;
    const reply = sut.open(sessionId, messageId);
    reply.offer(content);
    await sleep(INTERVAL_MS * 1.5);
    expect(held).toHaveLength(1);
    return reply;
  }

  afterEach(async () => {
    jest.restoreAllMocks();
    for (const write of held) write.finish();
    await sut.onApplicationShutdown();
  });

  it('writes the newest text of every streaming reply in one batch per interval', async () => {
    const a = sut.open('s1', 'm1');
    const b = sut.open('s2', 'm2');
    a.offer('A');
    a.offer('Ab');
    b.offer('B');
    expect(checkpointReplies).not.toHaveBeenCalled();

    await sleep(INTERVAL_MS * 1.5);
    expect(batches).toEqual([
      [
        { sessionId: 's1', messageId: 'm1', content: 'Ab' },
        { sessionId: 's2', messageId: 'm2', content: 'B' },
      ],
    ]);

    // Only what changed since goes into the next batch; nothing new, no write at all.
    b.offer('Bc');
    await sleep(INTERVAL_MS * 3);
    expect(batches.slice(1)).toEqual([[{ sessionId: 's2', messageId: 'm2', content: 'Bc' }]]);
    await a.close();
    await b.close();
  });

  it('keeps one batch in flight: a slow store skips ticks, then gets the newest text', async () => {
    const reply = await heldInFlight('s1', 'm1', 'one');

    reply.offer('one two');
    reply.offer('one two three');
    await sleep(INTERVAL_MS * 3);
    expect(held).toHaveLength(1);

    holdWrites = false;
    held[0].finish();
    await sleep(INTERVAL_MS * 1.5);
    expect(batches.map((batch) => batch.map((c) => c.content))).toEqual([
      ['one'],
      ['one two three'],
    ]);
    await reply.close();
  });

  it('drops the unwritten text of a reply that ended, and ignores its later offers', async () => {
    const running = sut.open('s2', 'm2');
    running.offer('written');
    const ended = sut.open('s1', 'm1');
    ended.offer('never written');
    await ended.close();
    ended.offer('after the end');

    await sleep(INTERVAL_MS * 1.5);
    expect(batches).toEqual([[{ sessionId: 's2', messageId: 'm2', content: 'written' }]]);
    await running.close();
  });

  it('makes an ending reply wait for the batch in flight that holds it, not for others', async () => {
    const inBatch = await heldInFlight('s1', 'm1', 'text');
    const outside = sut.open('s2', 'm2');
    outside.offer('later');

    let closed = false;
    const closing = inBatch.close().then(() => (closed = true));
    await outside.close();
    await sleep(10);
    expect(closed).toBe(false);

    held[0].finish();
    await closing;
    expect(closed).toBe(true);
  });

  it('logs a failed batch without throwing and goes on with the next one', async () => {
    const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    const reply = await heldInFlight('s1', 'm1', 'lost');
    const closing = reply.close();
    held[0].fail(new Error('database down'));
    await expect(closing).resolves.toBeUndefined();
    expect(warn).toHaveBeenCalledWith(
      expect.objectContaining({ err: expect.any(Error), replies: 1 }),
      'Could not checkpoint replies',
    );

    holdWrites = false;
    const next = sut.open('s2', 'm2');
    next.offer('stored');
    await sleep(INTERVAL_MS * 1.5);
    expect(batches.at(-1)).toEqual([{ sessionId: 's2', messageId: 'm2', content: 'stored' }]);
    await next.close();
  });
});
