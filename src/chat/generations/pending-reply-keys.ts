import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { PendingReplyKey } from './pending-reply-key.entity';

/**
 * Which API key a pending reply is charged to (table `pending_reply_keys`), kept in the database
 * so that the InterruptedReplySweeper of any instance, or of the restarted one, can charge the
 * key's daily token quota for a reply whose instance died. Turns without a key write nothing.
 */
@Injectable()
export class PendingReplyKeys {
  constructor(
    @InjectRepository(PendingReplyKey) private readonly rows: Repository<PendingReplyKey>,
  ) {}

  /** Remembers that `messageId` (a pending reply) was requested with `apiKeyId`. */
  async remember(messageId: string, apiKeyId: string): Promise<void> {
    await this.rows.insert({ messageId, apiKeyId });
  }

  /** The key `messageId` was requested with, if any, forgotten as it is returned (to charge it). */
  async take(messageId: string): Promise<string | undefined> {
    const row = await this.rows.findOne({ where: { messageId }, select: { apiKeyId: true } });
    if (row) await this.forget(messageId);
    return row?.apiKeyId;
  }

  /** The reply's tokens are charged (or there were none): nothing left to remember. */
  async forget(messageId: string): Promise<void> {
    await this.rows.delete({ messageId });
  }
}
