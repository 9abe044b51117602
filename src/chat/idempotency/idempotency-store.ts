import type { DomainErrorKind } from '@app/common';
import type { ChatResponseDto } from '../dto/chat-response.dto';

/**
 * Remembers the outcome of requests sent with an `Idempotency-Key`, scoped per user. Two
 * implementations behind the IDEMPOTENCY_STORE token: in-process (TTL map) and Redis (REDIS_URL).
 */
export const IDEMPOTENCY_STORE = Symbol('IDEMPOTENCY_STORE');

/**
 * The first outcome of a request, enough to answer a retry on either endpoint: the response
 * (`model` is the one asked when the reply failed) and the failure, if any.
 */
export interface StoredChatResult extends ChatResponseDto {
  /** Set when the reply failed: the DomainError's kind and message, replayed as the same error. */
  error?: { kind: DomainErrorKind; detail: string };
  /**
   * The sequence number of the first request's final event. A replay numbers its events to
   * match (start 1, the whole reply final−1, final), so a client that resumes from a position it
   * saw in the replay gets what follows it in the original generation, no text twice.
   */
  final_seq?: number;
}

export type IdempotencyRecord =
  | { state: 'running'; fingerprint: string }
  | { state: 'done'; fingerprint: string; result: StoredChatResult };

export interface IdempotencyStore {
  /**
   * Claims `key` for a new request (returns null), or returns the record already there. A
   * claim expires after `runningTtlSeconds` so a crashed instance cannot hold a key forever.
   */
  claim(
    key: string,
    fingerprint: string,
    runningTtlSeconds: number,
  ): Promise<IdempotencyRecord | null>;
  /** Stores the outcome for `ttlSeconds`. */
  complete(
    key: string,
    fingerprint: string,
    result: StoredChatResult,
    ttlSeconds: number,
  ): Promise<void>;
  /** Forgets a claim whose request stored nothing (rejected before the provider was called). */
  release(key: string): Promise<void>;
  close(): Promise<void>;
}
