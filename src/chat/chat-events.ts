import { DomainError, mapError } from '@app/common';
import type { UsageDto } from '../history/dto/history-response.dto';
import type { FinishReason, TokenUsage } from '../providers/chat-provider.interface';

/**
 * The events of one generation, in the snake_case shape that SSE, Socket.IO and the plain
 * WebSocket send (eventPayload gives the wire payload). Order is always: `start`, any number of
 * `delta`, `tool_call` and `tool_result` (a server-side call's result follows its call), then
 * exactly one `done` or `error`.
 */

/** Token counts as the API shows them, in events, chat responses and history alike. */
export type UsagePayload = UsageDto;

/** A provider's usage as the API shows it; cache counts only when the provider reported some. */
export function usagePayload(usage: TokenUsage): UsagePayload {
  const payload: UsagePayload = {
    prompt_tokens: usage.promptTokens,
    completion_tokens: usage.completionTokens,
    tokens: usage.totalTokens,
  };
  if (usage.cacheReadTokens) payload.cache_read_tokens = usage.cacheReadTokens;
  if (usage.cacheWriteTokens) payload.cache_write_tokens = usage.cacheWriteTokens;
  return payload;
}

/** Why a reply ended: the provider's reason, or `aborted` when the user or client stopped it. */
export type FinishReasonPayload = FinishReason;

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

/** A tool call the model made (whole, arguments complete); a server-side one is followed by its result. */
export interface ToolCallEvent {
  type: 'tool_call';
  message_id: string;
  id: string;
  name: string;
  /** The arguments as the model wrote them (JSON text). */
  arguments: string;
}

/** The result of a server-side tool call, before the model is called again with it. */
export interface ToolResultEvent {
  type: 'tool_result';
  message_id: string;
  tool_call_id: string;
  name: string;
  content: string;
  is_error: boolean;
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
  /** Why the reply failed; each transport sends it as `detail` and `status` (eventPayload). */
  error: DomainError;
  message_id?: string;
}

export type ChatEvent =
  StartEvent | DeltaEvent | ToolCallEvent | ToolResultEvent | DoneEvent | ErrorEvent;

/**
 * The wire payload of an event without its `type` tag (what SSE puts in `data:`); a failure
 * becomes `{detail, status, message_id}` through the transports' one error mapping.
 */
export function eventPayload(event: ChatEvent): Record<string, unknown> {
  if (event.type === 'error') {
    const { status, body } = mapError(event.error);
    return { detail: body.detail, status, message_id: event.message_id };
  }
  const { type: _type, ...payload } = event;
  return payload;
}
