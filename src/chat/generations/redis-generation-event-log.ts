import { Logger } from '@nestjs/common';
import type Redis from 'ioredis';
import {
  GenerationEvent,
  GenerationEventLog,
  GenerationOwner,
  isFinalEvent,
} from './generation-event-log';

/** Events kept per generation at most (XADD MAXLEN): a reply longer than this cannot be resumed from its start. */
export const MAX_EVENTS_PER_GENERATION = 50_000;
/** Until a generation ends its keys expire after this long anyway (its owner may crash). */
const RUNNING_TTL_SECONDS = 24 * 3600;
/** One XREAD BLOCK waits this long before checking that the log still exists. */
const BLOCK_MS = 5_000;

type StreamEntries = [id: string, fields: string[]][];

/**
 * The event log in Redis Streams, shared by every instance: `<prefix><id>:events` is a stream
 * whose entry ids are `<seq>-0` (so `XREAD … <after>-0` is a resume), `<prefix><id>:owner` a hash
 * with the owner. Both expire CHAT__RESUME_TTL_SECONDS after the final event. Live tails block
 * in XREAD on a connection of their own, made for the read and closed after it.
 */
export class RedisGenerationEventLog extends GenerationEventLog {
  private readonly logger = new Logger(RedisGenerationEventLog.name);

  constructor(
    private readonly redis: Redis,
    private readonly ttlSeconds: number,
    private readonly prefix = 'chat:gen:',
  ) {
    super();
  }

  async open(id: string, owner: GenerationOwner): Promise<void> {
    await this.redis
      .multi()
      .hset(this.ownerKey(id), { user_id: owner.userId, session_id: owner.sessionId })
      .expire(this.ownerKey(id), RUNNING_TTL_SECONDS)
      .exec();
  }

  async append(id: string, event: GenerationEvent): Promise<void> {
    const key = this.eventsKey(id);
    const fields = ['type', event.type, 'data', JSON.stringify(event.data)];
    const multi = this.redis
      .multi()
      .xadd(key, 'MAXLEN', '~', MAX_EVENTS_PER_GENERATION, `${event.seq}-0`, ...fields);
    if (event.seq === 1) multi.expire(key, RUNNING_TTL_SECONDS);
    if (isFinalEvent(event)) {
      multi.expire(key, this.ttlSeconds).expire(this.ownerKey(id), this.ttlSeconds);
    }
    const results = await multi.exec();
    const failed = results?.find(([error]) => error);
    if (failed?.[0]) throw failed[0];
  }

  async interrupt(id: string, final: Omit<GenerationEvent, 'seq'>): Promise<void> {
    if (!(await this.redis.exists(this.ownerKey(id)))) return;
    const last = (await this.redis.xrevrange(this.eventsKey(id), '+', '-', 'COUNT', 1))[0];
    if (last && isFinalEvent(toEvent(...last))) return;
    await this.append(id, { ...final, seq: last ? toEvent(...last).seq + 1 : 1 });
  }

  async owner(id: string): Promise<GenerationOwner | null> {
    const owner = await this.redis.hgetall(this.ownerKey(id));
    return owner.user_id ? { userId: owner.user_id, sessionId: owner.session_id } : null;
  }

  async *read(id: string, after: number, signal?: AbortSignal): AsyncIterable<GenerationEvent> {
    const key = this.eventsKey(id);
    let last = `${after}-0`;
    // What is there already, without blocking (most resumes of a finished reply end here).
    let reader: Redis | undefined;
    // A blocked XREAD would hold QUIT back: a reader that is stopped is disconnected.
    const stop = () => reader?.disconnect();
    signal?.addEventListener('abort', stop, { once: true });
    try {
      while (!signal?.aborted) {
        const entries = reader
          ? await this.blockingRead(reader, key, last)
          : await this.readNow(key, last);
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
          const event = toEvent(entryId, fields);
          yield event;
          last = entryId;
          if (isFinalEvent(event)) return;
        }
      }
    } finally {
      signal?.removeEventListener('abort', stop);
      stop();
    }
  }

  async close(): Promise<void> {}

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

function toEvent(entryId: string, fields: string[]): GenerationEvent {
  const value = (name: string) => fields[fields.indexOf(name) + 1];
  return {
    seq: Number(entryId.split('-')[0]),
    type: value('type') as GenerationEvent['type'],
    data: JSON.parse(value('data')) as Record<string, unknown>,
  };
}
