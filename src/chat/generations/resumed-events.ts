import type { GenerationEvent } from './generation-event-log';

/**
 * The events of a resume, handed on from the log's reader as they come, with the resume's
 * clean-up run once: when the reader ends or fails, or when the consumer stops early (`return`,
 * as `for await` calls on `break` or a throw). An iterator rather than an async generator: a
 * generator wrapped around the reader costs a few promises and microtasks more per event, on the
 * path every reconnecting client waits behind.
 */
export class ResumedEvents implements AsyncIterableIterator<GenerationEvent> {
  private first: Promise<IteratorResult<GenerationEvent>> | undefined;
  private cleanedUp: Promise<void> | undefined;

  /** `first`: the reader's first `next()`, already asked for (it went out with the owner look-up). */
  constructor(
    private readonly reader: AsyncIterator<GenerationEvent>,
    first: Promise<IteratorResult<GenerationEvent>>,
    private readonly cleanUp: () => Promise<void>,
  ) {
    this.first = first;
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  next(): Promise<IteratorResult<GenerationEvent>> {
    const next = this.first ?? this.reader.next();
    this.first = undefined;
    return next.then(
      (result) => (result.done ? this.end().then(() => result) : result),
      (error: unknown) =>
        this.end().then(() => {
          throw error;
        }),
    );
  }

  async return(): Promise<IteratorResult<GenerationEvent>> {
    await this.end();
    return { done: true, value: undefined };
  }

  private end(): Promise<void> {
    this.cleanedUp ??= this.cleanUp();
    return this.cleanedUp;
  }
}
