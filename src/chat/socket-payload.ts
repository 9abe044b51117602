import { plainToInstance } from 'class-transformer';
import { validate } from 'class-validator';
import {
  assertJsonDepth,
  InvalidInputError,
  RateLimitedError,
  toInvalidInputError,
} from '@app/common';
import type { ChatInput } from './chat-input';
import { SocketChatRequestDto, toChatInput } from './dto/chat-request.dto';

/**
 * Validates a Socket.IO / WebSocket payload with the same DTO rules as HTTP (depth limit,
 * whitelist, unknown fields rejected, no implicit conversion), throwing InvalidInputError (400)
 * instead of the HttpException a ValidationPipe would throw inside a gateway.
 */
export async function validatePayload<T extends object>(
  dto: new () => T,
  payload: unknown,
): Promise<T> {
  if (payload === null || typeof payload !== 'object' || Array.isArray(payload)) {
    throw new InvalidInputError('Payload must be a JSON object');
  }
  assertJsonDepth(payload);
  const instance = plainToInstance(dto, payload, { enableImplicitConversion: false });
  const errors = await validate(instance, {
    whitelist: true,
    forbidNonWhitelisted: true,
    validationError: { target: false, value: false },
  });
  if (errors.length) throw toInvalidInputError(errors);
  return instance;
}

/** A `chat:send` payload (or WebSocket chat frame) as the chat turn takes it. */
export async function readChatPayload(payload: unknown): Promise<ChatInput> {
  return toChatInput(await validatePayload(SocketChatRequestDto, payload));
}

/**
 * A `chat:tool_result` payload (or `{"type": "tool_result"}` frame): a chat payload that must
 * carry `tool_results`.
 */
export async function readToolResultPayload(payload: unknown): Promise<ChatInput> {
  if (payload && typeof payload === 'object' && !('tool_results' in payload)) {
    throw new InvalidInputError('tool_results is required', [
      { field: 'tool_results', message: 'is required' },
    ]);
  }
  return readChatPayload(payload);
}

/**
 * A fixed-window counter of events on one connection (sockets are not covered by the HTTP
 * throttler). Chat turns are additionally bounded per user by QuotaService.
 */
export class ConnectionRateLimiter {
  private windowStart = Date.now();
  private count = 0;

  constructor(
    private readonly limit: number,
    private readonly windowMs = 60_000,
  ) {}

  /** Counts one event; throws 429 when the window's budget is spent. */
  hit(): void {
    const now = Date.now();
    if (now - this.windowStart >= this.windowMs) {
      this.windowStart = now;
      this.count = 0;
    }
    this.count++;
    if (this.count > this.limit) {
      const retryAfter = Math.ceil((this.windowStart + this.windowMs - now) / 1000);
      throw new RateLimitedError('Too many events on this connection; slow down', retryAfter);
    }
  }
}
