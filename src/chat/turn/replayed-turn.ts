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
    const outcome = fromStoredResult(this.result);
    const middle: ChatEvent[] = outcome.reply ? [{ type: 'delta', text: outcome.reply }] : [];
    for (const call of outcome.tool_calls ?? []) {
      const { message_id } = outcome;
      const { id, name, arguments: args } = call;
      middle.push({ type: 'tool_call', message_id, id, name, arguments: args });
      if (call.executed_by === 'server' && call.result) {
        middle.push({
          type: 'tool_result',
          message_id,
          tool_call_id: call.id,
          name: call.name,
          content: call.result.content,
          is_error: call.result.is_error,
        });
      }
    }
    // The original's numbering (StoredChatResult.final_seq): the whole reply stands for its
    // deltas, and the tool events keep their order just before the final event.
    const finalSeq = Math.max(this.result.final_seq ?? 0, 2 + middle.length);
    tell(
      {
        type: 'start',
        session_id: outcome.session_id,
        message_id: outcome.message_id,
        model: outcome.model,
      },
      1,
    );
    middle.forEach((event, index) => tell(event, finalSeq - middle.length + index));
    tell(finalEvent(outcome), finalSeq);
    return outcome;
  }

  leave(): void {}
}
