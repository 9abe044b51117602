/**
 * The events of one generation, with the exact wire payloads (snake_case) that SSE, Socket.IO
 * and the plain WebSocket send. Order is always: `start`, any number of `delta`, then exactly one
 * `done` or `error`.
 */

/** Token counts as the API shows them. */
export interface UsagePayload {
  prompt_tokens: number;
  completion_tokens: number;
  tokens: number;
}

/** Why a reply ended: the provider's reason, or `aborted` when the user or client stopped it. */
export type FinishReasonPayload = 'stop' | 'length' | 'content_filter' | 'aborted' | 'error';

export interface StartEvent {
  type: 'start';
  session_id: string;
  message_id: string;
  /** The model the request was routed to (`provider/model`). */
  model: string;
}

export interface DeltaEvent {
  type: 'delta';
  text: string;
}

export interface DoneEvent {
  type: 'done';
  message_id: string;
  usage: UsagePayload;
  finish_reason: FinishReasonPayload;
  /** The model that actually answered (differs from `start.model` after a fallback). */
  model: string;
}

export interface ErrorEvent {
  type: 'error';
  /** Client-safe reason; never provider text or keys. */
  detail: string;
  status: number;
  message_id?: string;
}

export type ChatEvent = StartEvent | DeltaEvent | DoneEvent | ErrorEvent;

/** Payload of an event without its `type` tag (what SSE puts in `data:`). */
export function eventPayload(event: ChatEvent): Record<string, unknown> {
  const { type: _type, ...payload } = event;
  return payload;
}
