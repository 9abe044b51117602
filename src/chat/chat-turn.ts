import { DomainError, DomainErrorKind } from '@app/common';
import type { ChatEvent } from './chat-events';
import type { StoredChatResult } from './idempotency/idempotency-store';

export type ChatEventListener = (event: ChatEvent) => void;

/**
 * A started chat turn. `begin` has already validated the request, taken the session lock and
 * stored the user message and the pending assistant message; `run` streams the reply.
 */
export interface ChatTurn {
  readonly sessionId: string;
  /** Id of the assistant message (the `message_id` of every event). */
  readonly messageId: string;
  /** The model the request was routed to. */
  readonly model: string;
  /** True when this is the replay of an earlier request with the same Idempotency-Key. */
  readonly replayed: boolean;
  /**
   * Emits `start`, the deltas and `done`/`error` to `listener`, stores the outcome and resolves
   * with it. Never rejects; a listener that throws is ignored (the reply is still stored).
   */
  run(listener?: ChatEventListener): Promise<TurnOutcome>;
  /** Stops the generation (client went away); the partial reply is stored as `aborted`. */
  abort(): void;
}

/** The outcome of a turn: the stored result plus `retryAfterSeconds` for a 503. */
export type TurnOutcome = StoredChatResult & { retryAfterSeconds?: number };

const KIND_BY_STATUS: Record<number, DomainErrorKind> = {
  400: 'validation',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  409: 'conflict',
  413: 'payload_too_large',
  429: 'rate_limited',
  502: 'upstream_error',
  503: 'upstream_unavailable',
  504: 'upstream_timeout',
};

/** A failed reply re-raised for the non-streaming endpoint, with the status it failed with. */
export class ReplyFailedError extends DomainError {
  readonly kind: DomainErrorKind;
  override readonly retryAfterSeconds?: number;

  constructor(detail: string, status: number, retryAfterSeconds?: number) {
    super(detail);
    this.kind = KIND_BY_STATUS[status] ?? 'upstream_error';
    this.retryAfterSeconds = retryAfterSeconds;
  }
}
