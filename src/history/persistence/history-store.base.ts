import { MessageNotFoundError } from '../history.errors';
import { HistoryStore, type MessagePatch, type MessageRecord } from '../history-store.interface';

/** What the SQL and Mongo stores share: both kinds of message update over one conditional one. */
export abstract class HistoryStoreBase extends HistoryStore {
  async updateMessage(
    sessionId: string,
    messageId: string,
    patch: MessagePatch,
  ): Promise<MessageRecord> {
    const updated = await this.changeMessageIf(sessionId, messageId, patch, false);
    if (!updated) throw new MessageNotFoundError();
    return updated;
  }

  async finishPendingReply(
    sessionId: string,
    messageId: string,
    patch: MessagePatch,
  ): Promise<boolean> {
    return (await this.changeMessageIf(sessionId, messageId, patch, true)) !== null;
  }

  /**
   * Sets the defined fields of `patch` on the message (only while it is `pending` with
   * `onlyPending`) and refreshes the session preview; the updated message, or null when none
   * matched.
   */
  protected abstract changeMessageIf(
    sessionId: string,
    messageId: string,
    patch: MessagePatch,
    onlyPending: boolean,
  ): Promise<MessageRecord | null>;
}
