import { Logger } from '@nestjs/common';
import { ChatEvent, eventPayload } from '../chat-events';
import type { GenerationEventLog, GenerationOwner } from './generation-event-log';

/**
 * The writer of one generation's events: numbers them (1 for `start`) and appends them to the
 * log in order without holding the stream back. A log that fails (Redis down) costs only the
 * resume of this generation: the failure is logged once and the reply streams on.
 */
export class GenerationRecorder {
  private readonly logger = new Logger(GenerationRecorder.name);
  private seq = 0;
  /** Appends not yet settled, and who waits for them all (`flushed`). */
  private outstanding = 0;
  private flushWaiters: (() => void)[] = [];
  private failed = false;

  constructor(
    private readonly log: GenerationEventLog,
    private readonly id: string,
  ) {}

  async open(owner: GenerationOwner): Promise<void> {
    await this.log.open(this.id, owner).catch((error: unknown) => this.fail(error));
  }

  /** Numbers the event, queues it for the log and returns its sequence number. */
  record(event: ChatEvent): number {
    const seq = ++this.seq;
    if (this.failed) return seq;
    let appended: Promise<void> | void;
    try {
      appended = this.log.append(this.id, { seq, type: event.type, data: eventPayload(event) });
    } catch (error) {
      this.fail(error);
      return seq;
    }
    if (!appended) return seq;
    this.outstanding++;
    appended.then(
      () => this.settled(),
      (error: unknown) => {
        this.fail(error);
        this.settled();
      },
    );
    return seq;
  }

  /** The sequence number the next recorded event gets. */
  get nextSeq(): number {
    return this.seq + 1;
  }

  /** Resolves once every recorded event reached the log (or the log failed). */
  flushed(): Promise<void> {
    if (this.outstanding === 0) return Promise.resolve();
    return new Promise((resolve) => this.flushWaiters.push(resolve));
  }

  private settled(): void {
    if (--this.outstanding > 0) return;
    for (const resolve of this.flushWaiters.splice(0)) resolve();
  }

  private fail(error: unknown): void {
    if (this.failed) return;
    this.failed = true;
    this.logger.warn(
      { err: error, messageId: this.id },
      'Could not keep the events of a generation; it cannot be resumed',
    );
  }
}
