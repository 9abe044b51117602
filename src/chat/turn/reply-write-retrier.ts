import { Injectable, Logger, OnApplicationShutdown, Optional } from '@nestjs/common';
import type { MessagePatch } from '../../history/history-store.interface';
import { HistoryService } from '../../history/history.service';
import { MetricsService } from '../../metrics/metrics.service';
import type { LockHandle } from '../locks/in-flight-lock';

/** Writes kept waiting at most; beyond it the oldest is given up (memory stays bounded). */
export const MAX_WAITING_WRITES = 1_000;
const FIRST_DELAY_MS = 500;
const MAX_DELAY_MS = 30_000;

/** The outcome of a reply that could not be stored, and the session lock it still holds. */
export interface ReplyWrite {
  sessionId: string;
  messageId: string;
  patch: MessagePatch;
  lock: LockHandle;
}

interface Waiting extends ReplyWrite {
  attempts: number;
  timer?: NodeJS.Timeout;
}

/**
 * Final reply writes that failed because the history store was down (database or Mongo outage
 * mid-reply): retried with exponential backoff (0.5 s doubling to 30 s) until the store is back,
 * instead of leaving the reply `pending`. The session lock — the generation's lease — stays held
 * until the write succeeds, so no sweeper takes the reply for interrupted meanwhile and the
 * session takes no new message before its reply is stored. Bounded: past MAX_WAITING_WRITES the
 * oldest write is given up (logged, counted) and its lock freed; the sweeper then stores that
 * reply as interrupted with its last checkpoint. Writes still waiting at shutdown are lost the
 * same way.
 */
@Injectable()
export class ReplyWriteRetrier implements OnApplicationShutdown {
  private readonly logger = new Logger(ReplyWriteRetrier.name);
  private readonly waiting = new Map<string, Waiting>();

  constructor(
    private readonly history: HistoryService,
    @Optional() private readonly metrics?: MetricsService,
  ) {}

  /** Queues the write; the lock is released once it is stored (or given up). */
  retry(write: ReplyWrite): void {
    if (this.waiting.size >= MAX_WAITING_WRITES) {
      const [oldest] = this.waiting.values();
      this.giveUp(oldest, 'the retry queue is full');
    }
    const entry: Waiting = { ...write, attempts: 0 };
    this.waiting.set(write.messageId, entry);
    this.metrics?.replyWrite('queued', this.waiting.size);
    this.logger.warn(
      { sessionId: write.sessionId, messageId: write.messageId },
      'Could not store a reply; retrying until the history store is back',
    );
    this.schedule(entry);
  }

  /** Writes still waiting. */
  get size(): number {
    return this.waiting.size;
  }

  async onApplicationShutdown(): Promise<void> {
    for (const entry of [...this.waiting.values()]) this.giveUp(entry, 'shutdown');
  }

  private schedule(entry: Waiting): void {
    const delay = Math.min(FIRST_DELAY_MS * 2 ** entry.attempts, MAX_DELAY_MS);
    entry.timer = setTimeout(() => void this.attempt(entry), delay);
    entry.timer.unref();
  }

  private async attempt(entry: Waiting): Promise<void> {
    if (this.waiting.get(entry.messageId) !== entry) return;
    entry.attempts++;
    try {
      await this.history.finishReply(entry.sessionId, entry.messageId, entry.patch);
    } catch (error) {
      if (this.waiting.get(entry.messageId) !== entry) return;
      this.logger.debug({ err: error, messageId: entry.messageId }, 'Reply write retry failed');
      this.schedule(entry);
      return;
    }
    this.waiting.delete(entry.messageId);
    this.metrics?.replyWrite('stored', this.waiting.size);
    this.logger.log(
      { messageId: entry.messageId, attempts: entry.attempts },
      'Stored a reply after the history store came back',
    );
    await entry.lock.release().catch(() => undefined);
  }

  private giveUp(entry: Waiting, reason: string): void {
    clearTimeout(entry.timer);
    this.waiting.delete(entry.messageId);
    this.metrics?.replyWrite('dropped', this.waiting.size);
    this.logger.error(
      { sessionId: entry.sessionId, messageId: entry.messageId, reason },
      'Gave up storing a reply; it will be stored as interrupted from its last checkpoint',
    );
    void entry.lock.release().catch(() => undefined);
  }
}
