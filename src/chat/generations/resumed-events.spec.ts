import type { GenerationEvent } from './generation-event-log';
import { ResumedEvents } from './resumed-events';

const delta = (seq: number): GenerationEvent => ({ seq, type: 'delta', data: { text: `w${seq}` } });

/** A reader over `events` that fails after them when `failure` is given. */
function readerOf(events: GenerationEvent[], failure?: Error) {
  const returned = jest.fn();
  const reader = (async function* () {
    try {
      yield* events;
      if (failure) throw failure;
    } finally {
      returned();
    }
  })();
  return { reader, returned };
}

describe('ResumedEvents', () => {
  it('hands on every event from the first read on, then cleans up once at the end', async () => {
    const { reader } = readerOf([delta(3), delta(4), delta(5)]);
    const cleanUp = jest.fn().mockResolvedValue(undefined);
    const events = new ResumedEvents(reader, reader.next(), cleanUp);

    const seen: number[] = [];
    for await (const event of events) seen.push(event.seq);

    expect(seen).toEqual([3, 4, 5]);
    expect(cleanUp).toHaveBeenCalledTimes(1);
    await events.return();
    expect(cleanUp).toHaveBeenCalledTimes(1);
  });

  it('cleans up when the consumer stops early, before the reader ends', async () => {
    const { reader } = readerOf([delta(1), delta(2), delta(3)]);
    const cleanUp = jest.fn(async () => {
      await reader.return(undefined);
    });
    const events = new ResumedEvents(reader, reader.next(), cleanUp);

    for await (const event of events) {
      if (event.seq === 2) break;
    }

    expect(cleanUp).toHaveBeenCalledTimes(1);
    expect(await reader.next()).toEqual({ done: true, value: undefined });
  });

  it("passes on the reader's failure after cleaning up", async () => {
    const failure = new Error('redis gone');
    const { reader, returned } = readerOf([delta(1)], failure);
    const cleanUp = jest.fn().mockResolvedValue(undefined);
    const events = new ResumedEvents(reader, reader.next(), cleanUp);

    const seen: number[] = [];
    await expect(
      (async () => {
        for await (const event of events) seen.push(event.seq);
      })(),
    ).rejects.toBe(failure);

    expect(seen).toEqual([1]);
    expect(returned).toHaveBeenCalled();
    expect(cleanUp).toHaveBeenCalledTimes(1);
  });

  it('waits for the clean-up before it reports the end', async () => {
    const { reader } = readerOf([]);
    let cleaned = false;
    const events = new ResumedEvents(reader, reader.next(), async () => {
      await new Promise((resolve) => setTimeout(resolve, 5));
      cleaned = true;
    });

    expect(await events.next()).toEqual({ done: true, value: undefined });
    expect(cleaned).toBe(true);
  });
});
