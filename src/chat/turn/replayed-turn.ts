import type { ChatEvent } from '../chat-events';
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
    let seq = 0;
    const emit = (event: ChatEvent) => tell(event, ++seq);
    const outcome = fromStoredResult(this.result);
    emit({
      type: 'start',
      session_id: outcome.session_id,
      message_id: outcome.message_id,
      model: outcome.model,
    });
    if (outcome.reply) emit({ type: 'delta', text: outcome.reply });
    emit(finalEvent(outcome));
    return outcome;
  }

  leave(): void {}
}
