import { Logger } from '@nestjs/common';
import { GenerationEvent, GenerationEventLog, GenerationOwner } from './generation-event-log';
import { MemoryGenerationEventLog } from './memory-generation-event-log';

/** How long the owner keeps a finished generation's events in memory (then only the shared log has them). */
export const LOCAL_RETENTION_SECONDS = 10;

/**
 * The log with REDIS_URL set: every event goes to the shared log (Redis Streams, read by the
 * other instances) and to this process's memory, from which the owner instance serves its own
 * resumes without a Redis round trip per event (and still serves them while Redis is down). The
 * local copy of a finished generation is dropped after LOCAL_RETENTION_SECONDS; the shared one
 * lives for CHAT__RESUME_TTL_SECONDS. A failing shared log is logged, not fatal: the reply
 * streams on and stays resumable here.
 */
export class TieredGenerationEventLog extends GenerationEventLog {
  private readonly logger = new Logger(TieredGenerationEventLog.name);
  private readonly local: MemoryGenerationEventLog;
  /** Generations whose shared copy failed (one warning each; no further writes there). */
  private readonly sharedFailed = new Set<string>();

  /** `ttlSeconds`: the shared log's retention (CHAT__RESUME_TTL_SECONDS); the local one is never longer. */
  constructor(
    private readonly shared: GenerationEventLog,
    ttlSeconds: number,
  ) {
    super();
    this.local = new MemoryGenerationEventLog(Math.min(LOCAL_RETENTION_SECONDS, ttlSeconds));
  }

  async open(id: string, owner: GenerationOwner): Promise<void> {
    await this.local.open(id, owner);
    await this.shared.open(id, owner).catch((error: unknown) => this.failShared(id, error));
  }

  async append(id: string, event: GenerationEvent): Promise<void> {
    this.local.append(id, event);
    if (this.sharedFailed.has(id)) return;
    try {
      await this.shared.append(id, event);
    } catch (error) {
      this.failShared(id, error);
    }
  }

  async interrupt(id: string, final: Omit<GenerationEvent, 'seq'>): Promise<void> {
    await this.local.interrupt(id, final);
    await this.shared.interrupt(id, final);
  }

  async owner(id: string): Promise<GenerationOwner | null> {
    return (await this.local.owner(id)) ?? this.shared.owner(id);
  }

  async *read(id: string, after: number, signal?: AbortSignal): AsyncIterable<GenerationEvent> {
    yield* (await this.local.owner(id))
      ? this.local.read(id, after, signal)
      : this.shared.read(id, after, signal);
  }

  async close(): Promise<void> {
    await Promise.all([this.local.close(), this.shared.close()]);
  }

  private failShared(id: string, error: unknown): void {
    if (this.sharedFailed.has(id)) return;
    this.sharedFailed.add(id);
    // Forgotten with the local copy; a bounded set even if generations keep failing.
    setTimeout(() => this.sharedFailed.delete(id), 3_600_000).unref();
    this.logger.warn(
      { err: error, messageId: id },
      'Could not share the events of a generation; only this instance can resume it',
    );
  }
}
