import { Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { AppConfig } from '@app/config';
import type { ReplyCheckpoint } from '../../history/history-store.interface';
import { HistoryService } from '../../history/history.service';

/** The checkpoints of one streaming reply (see ReplyCheckpointWriter). */
export interface ReplyCheckpoints {
  /** Keeps the reply's text so far for the next batch (cheap and synchronous). */
  offer(text: string): void;
  /**
   * The reply has ended: drops its unwritten text and waits for the batch in flight when it holds
   * the reply, so no checkpoint can land after (and overwrite) the final write.
   */
  close(): Promise<void>;
}

/** A batch being written and the replies (message ids) it holds. */
interface BatchInFlight {
  messageIds: Set<string>;
  /** Settles when the write has ended; never rejects. */
  done: Promise<void>;
}

/**
 * Checkpoints the text so far of every streaming reply of this process: every
 * CHAT__CHECKPOINT_MS the newest text of each reply that changed is written in one store call
 * (HistoryService.checkpointReplies), so N streaming replies cost one write a second, not N. One
 * batch is in flight at a time: a slow store skips a tick rather than queueing batches (the
 * replies' newer text waits for the next one). A crash loses at most about one interval: the
 * sweeper stores an interrupted reply with its last checkpointed text.
 */
@Injectable()
export class ReplyCheckpointWriter implements OnApplicationShutdown {
  private readonly logger = new Logger(ReplyCheckpointWriter.name);
  private readonly intervalMs: number;
  /** The newest unwritten text of each streaming reply, by message id. */
  private readonly waiting = new Map<string, ReplyCheckpoint>();
  /** Ticks while there is something to write; stopped when a tick finds nothing. */
  private timer: NodeJS.Timeout | undefined;
  private inFlight: BatchInFlight | undefined;

  constructor(
    private readonly history: HistoryService,
    config: AppConfig,
  ) {
    this.intervalMs = config.chat.checkpointMs;
  }

  /** Starts checkpointing a streaming reply; close the result when the reply ends. */
  open(sessionId: string, messageId: string): ReplyCheckpoints {
    let closed = false;
    return {
      offer: (content) => {
        if (closed) return;
        this.waiting.set(messageId, { sessionId, messageId, content });
        this.timer ??= setInterval(() => this.tick(), this.intervalMs).unref();
      },
      close: async () => {
        closed = true;
        this.waiting.delete(messageId);
        const batch = this.inFlight;
        if (batch?.messageIds.has(messageId)) await batch.done;
      },
    };
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.inFlight?.done;
  }

  private tick(): void {
    if (this.inFlight) return;
    if (!this.waiting.size) {
      clearInterval(this.timer);
      this.timer = undefined;
      return;
    }
    const batch = [...this.waiting.values()];
    this.waiting.clear();
    const done = this.history
      .checkpointReplies(batch)
      .catch((error: unknown) =>
        this.logger.warn({ err: error, replies: batch.length }, 'Could not checkpoint replies'),
      )
      .finally(() => (this.inFlight = undefined));
    this.inFlight = { messageIds: new Set(batch.map((reply) => reply.messageId)), done };
  }
}
