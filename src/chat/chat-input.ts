import { createHash } from 'node:crypto';
import { InvalidInputError } from '@app/common';
import type { ApiKeyQuota } from '../auth/auth-user';
import type { ToolDefinition } from '../providers/chat-provider.interface';
import type { ToolResultInput } from './tool-input';

/** One chat turn as every transport hands it to ChatService (already shape-validated by its DTO). */
export interface ChatInput {
  message: string;
  /** Null or absent starts a new session. */
  sessionId?: string | null;
  model?: string;
  systemPrompt?: string;
  temperature?: number;
  maxTokens?: number;
  /** Regenerate this assistant reply of the session (`message` is then empty and unused). */
  regenerateOf?: string;
  /** Parent of the new user message; null: a new first message; absent: the active leaf. */
  parentId?: string | null;
  /** A preset of the user whose settings fill in what the request does not send. */
  presetId?: string;
  /** Ids of the user's files the message attaches. */
  attachments?: string[];
  /** Functions the client offers the model (it runs them itself and answers with toolResults). */
  tools?: ToolDefinition[];
  /**
   * The client's results for the tool calls the session's active reply waits on: the turn then
   * continues that reply instead of answering a new message (`message` is empty and unused).
   */
  toolResults?: ToolResultInput[];
}

export interface ChatTurnOptions {
  /** Value of the `Idempotency-Key` header (HTTP only). */
  idempotencyKey?: string;
  /** The personal API key the turn was made with: its own daily token quota applies too. */
  apiKey?: ApiKeyQuota;
}

const IDEMPOTENCY_KEY = /^[\x20-\x7e]{1,255}$/;

/**
 * Validates an `Idempotency-Key` header: 1–255 printable ASCII characters. Returns undefined when
 * the header is absent; throws 400 when it is present but malformed (or sent twice).
 */
export function parseIdempotencyKey(header: string | string[] | undefined): string | undefined {
  if (header === undefined) return undefined;
  if (Array.isArray(header) || !IDEMPOTENCY_KEY.test(header) || !header.trim()) {
    throw new InvalidInputError('Idempotency-Key must be 1 to 255 printable ASCII characters', [
      { field: 'Idempotency-Key', message: 'must be 1 to 255 printable ASCII characters' },
    ]);
  }
  return header;
}

/** A stable digest of a request, so a reused Idempotency-Key with another body is detected. */
export function fingerprintInput(input: ChatInput): string {
  const canonical = JSON.stringify([
    input.message,
    input.sessionId ?? null,
    input.model ?? null,
    input.systemPrompt ?? null,
    input.temperature ?? null,
    input.maxTokens ?? null,
    input.regenerateOf ?? null,
    input.parentId === undefined ? '' : input.parentId,
    input.presetId ?? null,
    input.attachments ?? [],
    // Only when sent, so requests without them keep the digest they had before tools existed.
    ...(input.tools || input.toolResults ? [input.tools ?? [], input.toolResults ?? []] : []),
  ]);
  return createHash('sha256').update(canonical).digest('hex');
}
