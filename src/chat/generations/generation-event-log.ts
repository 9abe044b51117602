import type { ChatEvent } from '../chat-events';

/** One event of a generation as every transport sends it: its sequence, type and wire payload. */
export interface GenerationEvent {
  /** 1 for `start`, then increasing by one; the SSE `id:` and the `after` of a resume. */
  seq: number;
  type: ChatEvent['type'];
  /** The payload of eventPayload (what SSE puts in `data:`). */
  data: Record<string, unknown>;
}

/** Who a generation belongs to: only this user may resume it. */
export interface GenerationOwner {
  userId: string;
  sessionId: string;
}

/** True for the last event of a generation (`done` or `error`). */
export const isFinalEvent = (event: Pick<GenerationEvent, 'type'>) =>
  event.type === 'done' || event.type === 'error';

/**
 * The events of running and recently finished generations (keyed by the assistant message_id),
 * so that a client that lost its connection can resume: everything after the last sequence it
 * saw, then the live rest. In memory for one instance; Redis Streams when REDIS_URL is set, so
 * any instance serves a resume. A finished generation's events are kept for
 * CHAT__RESUME_TTL_SECONDS, then forgotten (the history store keeps the message).
 */
export abstract class GenerationEventLog {
  /** Starts the log of a generation. */
  abstract open(id: string, owner: GenerationOwner): Promise<void>;
  /**
   * Appends an event. A generation has one writer, which appends in sequence order and does not
   * wait for one append before the next; the final event starts the retention TTL. A log that
   * appends at once (in memory) returns nothing rather than a settled promise: one event per
   * token goes through here.
   */
  abstract append(id: string, event: GenerationEvent): Promise<void> | void;
  /**
   * Ends the log of a generation whose writer is gone (a crashed instance) with `final`, numbered
   * after the last stored event, so that its resumes end too. Nothing happens to an unknown or
   * already finished log.
   */
  abstract interrupt(id: string, final: Omit<GenerationEvent, 'seq'>): Promise<void>;
  /** The owner of a known generation, or null when it is unknown or its events expired. */
  abstract owner(id: string): Promise<GenerationOwner | null>;
  /**
   * The events with a sequence above `after`, then the live ones as they are appended, ending
   * after the final event (or when `signal` aborts, or the log expires).
   */
  abstract read(id: string, after: number, signal?: AbortSignal): AsyncIterable<GenerationEvent>;
  abstract close(): Promise<void>;
}
