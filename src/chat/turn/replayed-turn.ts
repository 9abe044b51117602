import type { ChatEventListener, ChatTurn, TurnOutcome } from '../chat-turn';
import { finalEvent, fromStoredResult, safeListener } from '../chat-turn';
import type { StoredChatResult } from '../idempotency/idempotency-store';

/** A retry with the same Idempotency-Key: the first outcome, told again as events. */
export class ReplayedTurn implements ChatTurn {
  readonly replayed = true;

  constructor(private readonly result: StoredChatResult) {}

  get sessionId(): string {
    return this.result.session_id;
  }

  get messageId(): string {
    return this.result.message_id;
  }

  get model(): string {
    return this.result.model;
  }

  async run(listener?: ChatEventListener): Promise<TurnOutcome> {
    const tell = safeListener(listener);
    const outcome = fromStoredResult(this.result);
    const delta = outcome.reply ? 1 : 0;
    // The original's numbering (StoredChatResult.final_seq): the whole reply stands for its deltas.
    const finalSeq = Math.max(this.result.final_seq ?? 0, 2 + delta);
    tell(
      {
        type: 'start',
        session_id: outcome.session_id,
        message_id: outcome.message_id,
        model: outcome.model,
      },
      1,
    );
    if (delta) tell({ type: 'delta', text: outcome.reply }, finalSeq - 1);
    tell(finalEvent(outcome), finalSeq);
    return outcome;
  }

  leave(): void {}
}
