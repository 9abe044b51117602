import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { PendingReplyKey } from './pending-reply-key.entity';
import { driverSql } from '../../database/driver-sql';

/**
 * Which API key a pending reply is charged to (table `pending_reply_keys`), kept in the database
 * so that the InterruptedReplySweeper of any instance, or of the restarted one, can charge the
 * key's daily token quota for a reply whose instance died. Turns without a key write nothing.
 */
@Injectable()
export class PendingReplyKeys {
  /**
   * The two statements every API-key turn runs, as plain SQL in the driver's placeholder style:
   * no TypeORM insert/delete query is built per turn (`take` is the sweeper's, rare).
   */
  private readonly insertSql: string;
  private readonly deleteSql: string;

  constructor(
    @InjectRepository(PendingReplyKey) private readonly rows: Repository<PendingReplyKey>,
  ) {
    const connection = rows.manager.connection;
    // created_at takes the column's default (the migration's now()).
    this.insertSql = driverSql(
      connection,
      'INSERT INTO pending_reply_keys (message_id, api_key_id) VALUES (?, ?)',
    );
    this.deleteSql = driverSql(connection, 'DELETE FROM pending_reply_keys WHERE message_id = ?');
  }

  /** Remembers that `messageId` (a pending reply) was requested with `apiKeyId`. */
  async remember(messageId: string, apiKeyId: string): Promise<void> {
    await this.rows.query(this.insertSql, [messageId, apiKeyId]);
  }

  /** The key `messageId` was requested with, if any, forgotten as it is returned (to charge it). */
  async take(messageId: string): Promise<string | undefined> {
    const row = await this.rows.findOne({ where: { messageId }, select: { apiKeyId: true } });
    if (row) await this.forget(messageId);
    return row?.apiKeyId;
  }

  /** The reply's tokens are charged (or there were none): nothing left to remember. */
  async forget(messageId: string): Promise<void> {
    await this.rows.query(this.deleteSql, [messageId]);
  }
}
