import { DomainError, DomainErrorKind } from '@app/common';
import type { ChatEvent } from './chat-events';
import type { StoredChatResult } from './idempotency/idempotency-store';

/** Receives each event of a turn with its sequence number (1 for `start`, then +1). */
export type ChatEventListener = (event: ChatEvent, seq: number) => void;

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
  /**
   * The client that runs the turn went away: the generation goes on for CHAT__RESUME_WINDOW_MS
   * waiting for a resume (at once with 0), then stops; the partial reply is stored as `aborted`.
   */
  leave(): void;
}

/** The outcome of a turn; `failure` is why the reply failed, for the transport to map. */
export interface TurnOutcome extends Omit<StoredChatResult, 'error'> {
  failure?: DomainError;
}

/** A failed reply raised again from what was stored of it (an Idempotency-Key replay). */
export class ReplyFailedError extends DomainError {
  constructor(
    readonly kind: DomainErrorKind,
    detail: string,
  ) {
    super(detail);
  }
}

/** What an idempotent request remembers of its outcome: the failure as its kind and message. */
export function toStoredResult(outcome: TurnOutcome, finalSeq?: number): StoredChatResult {
  const { failure, ...result } = outcome;
  const stored: StoredChatResult =
    finalSeq === undefined ? result : { ...result, final_seq: finalSeq };
  return failure ? { ...stored, error: { kind: failure.kind, detail: failure.message } } : stored;
}

/** The outcome told again on a replay; its failure answers with the same status and detail. */
export function fromStoredResult(stored: StoredChatResult): TurnOutcome {
  // eslint-disable-next-line @typescript-eslint/no-unused-vars
  const { error, final_seq, ...result } = stored;
  return error ? { ...result, failure: new ReplyFailedError(error.kind, error.detail) } : result;
}

/** The last event of a turn: `error` for a failed reply, else `done`. */
export function finalEvent(outcome: TurnOutcome): ChatEvent {
  return outcome.failure
    ? { type: 'error', error: outcome.failure, message_id: outcome.message_id }
    : {
        type: 'done',
        message_id: outcome.message_id,
        usage: outcome.usage,
        finish_reason: outcome.finish_reason,
        model: outcome.model,
      };
}

/** The listener of a turn as the turn calls it: absent or throwing listeners are ignored. */
export function safeListener(listener: ChatEventListener | undefined): ChatEventListener {
  return (event, seq) => {
    if (!listener) return;
    try {
      listener(event, seq);
    } catch {
      // A transport that cannot deliver (closed socket) must not break storing the reply.
    }
  };
}
