import { Logger } from '@nestjs/common';
import type Redis from 'ioredis';
import {
  GenerationEvent,
  GenerationEventLog,
  GenerationOwner,
  isFinalEvent,
} from './generation-event-log';

/** Stream entries kept per generation at most (XADD MAXLEN ~): older batches are trimmed. */
export const MAX_ENTRIES_PER_GENERATION = 50_000;
/** Events of one generation appended within this window go to Redis as one entry. */
export const BATCH_MS = 50;
/** Until a generation ends its keys expire after this long anyway (its owner may crash). */
const RUNNING_TTL_SECONDS = 24 * 3600;
/** One XREAD BLOCK waits this long before checking that the log still exists. */
const BLOCK_MS = 5_000;

type StreamEntries = [id: string, fields: string[]][];

interface Batch {
  events: GenerationEvent[];
  timer?: NodeJS.Timeout;
  written: Promise<void>;
  resolve: () => void;
  reject: (error: unknown) => void;
}

/**
 * The event log in Redis Streams, shared by every instance. `<prefix><id>:events` is a stream of
 * batches: the events a generation appended within BATCH_MS (the final one at once) are one
 * entry, whose id is `<seq of its last event>-0` and whose `events` field is their JSON array, so
 * `XREAD … <after>-0` finds every batch holding an event after `after` (the reader skips the
 * earlier events of the first one). Batching keeps Redis commands far below one per token.
 * `<prefix><id>:owner` is a hash with the owner. Both expire CHAT__RESUME_TTL_SECONDS after the
 * final event. Live tails block in XREAD on a connection of their own, made for the read and
 * closed after it.
 */
export class RedisGenerationEventLog extends GenerationEventLog {
  private readonly logger = new Logger(RedisGenerationEventLog.name);
  private readonly batches = new Map<string, Batch>();

  constructor(
    private readonly redis: Redis,
    private readonly ttlSeconds: number,
    private readonly prefix = 'chat:gen:',
  ) {
    super();
  }

  async open(id: string, owner: GenerationOwner): Promise<void> {
    await this.redis
      .pipeline()
      .hset(this.ownerKey(id), { user_id: owner.userId, session_id: owner.sessionId })
      .expire(this.ownerKey(id), RUNNING_TTL_SECONDS)
      .exec()
      .then(throwFirstError);
  }

  append(id: string, event: GenerationEvent): Promise<void> {
    let batch = this.batches.get(id);
    if (!batch) {
      let resolve = () => {};
      let reject: (error: unknown) => void = () => {};
      const written = new Promise<void>((ok, fail) => {
        resolve = ok;
        reject = fail;
      });
      batch = { events: [], written, resolve, reject };
      this.batches.set(id, batch);
      const scheduled = batch;
      batch.timer = setTimeout(() => this.flush(id, scheduled), BATCH_MS);
    }
    batch.events.push(event);
    if (isFinalEvent(event)) {
      clearTimeout(batch.timer);
      this.flush(id, batch);
    }
    return batch.written;
  }

  async interrupt(id: string, final: Omit<GenerationEvent, 'seq'>): Promise<void> {
    if (!(await this.redis.exists(this.ownerKey(id)))) return;
    const [last] = await this.redis.xrevrange(this.eventsKey(id), '+', '-', 'COUNT', 1);
    const lastEvent = last ? toEvents(last[1]).at(-1) : undefined;
    if (lastEvent && isFinalEvent(lastEvent)) return;
    await this.append(id, { ...final, seq: (lastEvent?.seq ?? 0) + 1 });
  }

  async owner(id: string): Promise<GenerationOwner | null> {
    const owner = await this.redis.hgetall(this.ownerKey(id));
    return owner.user_id ? { userId: owner.user_id, sessionId: owner.session_id } : null;
  }

  async *read(id: string, after: number, signal?: AbortSignal): AsyncIterable<GenerationEvent> {
    const key = this.eventsKey(id);
    let lastEntry = `${after}-0`;
    let lastSeq = after;
    // What is there already is read without blocking (most resumes of a finished reply end there).
    let reader: Redis | undefined;
    // A blocked XREAD would hold QUIT back: a reader that is stopped is disconnected.
    const stop = () => reader?.disconnect();
    signal?.addEventListener('abort', stop, { once: true });
    try {
      while (!signal?.aborted) {
        const entries = reader
          ? await this.blockingRead(reader, key, lastEntry)
          : await this.readNow(key, lastEntry);
        if (entries === null) {
          if (signal?.aborted || !(await this.redis.exists(this.ownerKey(id)))) return;
          if (!reader) {
            // Queues its first XREAD until connected (the shared connection fails fast instead).
            reader = this.redis.duplicate({ enableOfflineQueue: true, maxRetriesPerRequest: 1 });
            // Its failures surface in blockingRead; the event would only be printed by ioredis.
            reader.on('error', () => undefined);
          }
          continue;
        }
        for (const [entryId, fields] of entries) {
          lastEntry = entryId;
          for (const event of toEvents(fields)) {
            if (event.seq <= lastSeq) continue;
            yield event;
            lastSeq = event.seq;
            if (isFinalEvent(event)) return;
          }
        }
      }
    } finally {
      signal?.removeEventListener('abort', stop);
      stop();
    }
  }

  async close(): Promise<void> {
    for (const [id, batch] of this.batches) {
      clearTimeout(batch.timer);
      this.flush(id, batch);
    }
  }

  /** Writes a batch as one stream entry (plus the expiries its first or final event sets). */
  private flush(id: string, batch: Batch): void {
    if (this.batches.get(id) === batch) this.batches.delete(id);
    const key = this.eventsKey(id);
    const first = batch.events[0];
    const last = batch.events[batch.events.length - 1];
    const entry = [`${last.seq}-0`, 'events', JSON.stringify(batch.events)] as const;
    const needsExpiry = first.seq === 1 || isFinalEvent(last);
    // Most batches are one XADD; a pipeline only for the first (expiry) and the final one.
    const written = needsExpiry
      ? this.withExpiries(id, key, first, last, entry)
      : this.redis.xadd(key, 'MAXLEN', '~', MAX_ENTRIES_PER_GENERATION, ...entry);
    written.then(() => batch.resolve(), batch.reject);
  }

  private withExpiries(
    id: string,
    key: string,
    first: GenerationEvent,
    last: GenerationEvent,
    entry: readonly [string, string, string],
  ): Promise<void> {
    const pipeline = this.redis
      .pipeline()
      .xadd(key, 'MAXLEN', '~', MAX_ENTRIES_PER_GENERATION, ...entry);
    if (first.seq === 1) pipeline.expire(key, RUNNING_TTL_SECONDS);
    if (isFinalEvent(last)) {
      pipeline.expire(key, this.ttlSeconds).expire(this.ownerKey(id), this.ttlSeconds);
    }
    return pipeline.exec().then(throwFirstError);
  }

  private async readNow(key: string, last: string): Promise<StreamEntries | null> {
    const result = await this.redis.xread('COUNT', 1000, 'STREAMS', key, last);
    return result?.[0]?.[1] ?? null;
  }

  private async blockingRead(
    reader: Redis,
    key: string,
    last: string,
  ): Promise<StreamEntries | null> {
    try {
      const result = await reader.xread('COUNT', 1000, 'BLOCK', BLOCK_MS, 'STREAMS', key, last);
      return result?.[0]?.[1] ?? null;
    } catch (error) {
      if (reader.status === 'end' || reader.status === 'close') return null;
      this.logger.warn({ err: error, key }, 'Could not read generation events');
      throw error;
    }
  }

  private eventsKey(id: string): string {
    return `${this.prefix}${id}:events`;
  }

  private ownerKey(id: string): string {
    return `${this.prefix}${id}:owner`;
  }
}

function toEvents(fields: string[]): GenerationEvent[] {
  return JSON.parse(fields[fields.indexOf('events') + 1]) as GenerationEvent[];
}

/** A pipeline's results: the first command error is thrown. */
function throwFirstError(results: [Error | null, unknown][] | null): void {
  const failed = results?.find(([error]) => error);
  if (failed?.[0]) throw failed[0];
}
