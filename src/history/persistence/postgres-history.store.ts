import { Injectable } from '@nestjs/common';
import { MESSAGE_COLUMNS, type RawRow } from './sql-history-rows';

/** Messages per statement of an import. */
const IMPORT_BATCH = 1000;
/** The array type of each MESSAGE_COLUMNS column, in order. */
const IMPORT_COLUMN_TYPES = [
  'varchar',
  'varchar',
  'int',
  'varchar',
  'varchar',
  'text',
  'varchar',
  'varchar',
  'int',
  'int',
  'text',
  'timestamp',
  'text',
  'varchar',
  'text',
  'text',
];
const INSERT_MESSAGE_ARRAYS =
  `INSERT INTO chat_messages (${MESSAGE_COLUMNS}) SELECT * FROM unnest(` +
  IMPORT_COLUMN_TYPES.map((type, index) => `$${index + 1}::${type}[]`).join(', ') +
  ')';
/**
 * checkpointRows' statement: the batch as one array per column (one text whatever its size), the
 * pending messages updated, then each session once, by its newest changed message.
 */
const CHECKPOINT_REPLIES =
  'WITH batch AS (SELECT * FROM unnest(?::varchar[], ?::varchar[], ?::text[], ?::text[]) ' +
  'AS b(id, session_id, content, preview)), ' +
  'message AS (UPDATE chat_messages m SET content = batch.content FROM batch ' +
  "WHERE m.id = batch.id AND m.session_id = batch.session_id AND m.status = 'pending' " +
  'RETURNING m.session_id, m.seq, batch.preview), ' +
  'newest AS (SELECT DISTINCT ON (session_id) session_id, seq, preview FROM message ' +
  'ORDER BY session_id, seq DESC) ' +
  'UPDATE chat_sessions s SET updated_at = ?, last_message = CASE WHEN ' +
  "s.message_count = newest.seq AND newest.preview <> '' THEN newest.preview ELSE s.last_message END " +
  'FROM newest WHERE s.id = newest.session_id';
import {
  CheckpointRow,
  DELETE_SESSION,
  DELETE_SESSION_MESSAGES,
  DELETE_USER_MESSAGES,
  DELETE_USER_SESSIONS,
  INSERT_SESSION,
  insertMessagesFrom,
  MessageAppend,
  MessageChange,
  SqlHistoryStore,
} from './sql-history.store';
import { numberedPlaceholders } from '../../database/driver-sql';

/**
 * History in PostgreSQL: every statement is a round trip, so every write is one statement
 * (data-modifying CTEs); the session UPDATE's row lock queues concurrent appends to a session.
 */
@Injectable()
export class PostgresHistoryStore extends SqlHistoryStore {
  protected readonly caseInsensitiveLike = 'ILIKE';
  /** Statements with `?` placeholders → with `$n` ones. */
  private readonly texts = new Map<string, string>();

  /** One statement through TypeORM's pool; its rows. */
  protected async query(sql: string, parameters: unknown[]): Promise<RawRow[]> {
    // The structured result: plain `query()` answers an UPDATE/DELETE with [rows, affected].
    const runner = this.dataSource.createQueryRunner();
    try {
      const result = await runner.query(this.numbered(sql), parameters, true);
      return (result.records ?? []) as RawRow[];
    } finally {
      await runner.release();
    }
  }

  protected async deleteOwnedSession(userId: string, sessionId: string): Promise<boolean> {
    const rows = await this.query(
      `WITH messages AS (${DELETE_SESSION_MESSAGES}) ${DELETE_SESSION}`,
      [sessionId, userId, sessionId, userId],
    );
    return rows.length > 0;
  }

  protected async deleteUserHistory(userId: string): Promise<void> {
    await this.query(`WITH messages AS (${DELETE_USER_MESSAGES}) ${DELETE_USER_SESSIONS}`, [
      userId,
      userId,
    ]);
  }

  protected async insertNumbered(append: MessageAppend): Promise<RawRow[]> {
    // The locked sub-select returns the row as it was before this UPDATE (the previous leaf),
    // read after any concurrent append to the session committed.
    const counter =
      `UPDATE chat_sessions s SET message_count = s.message_count + ${append.count}, ` +
      'updated_at = ?, last_message = COALESCE(?, s.last_message), active_leaf_id = ? ' +
      'FROM (SELECT id, active_leaf_id FROM chat_sessions WHERE id = ? FOR UPDATE) old ' +
      'WHERE s.id = old.id RETURNING s.id, s.message_count, old.active_leaf_id AS prior_leaf';
    return this.query(
      `WITH counter AS (${counter}) ` +
        insertMessagesFrom(
          append.count,
          'FROM counter',
          (type) => `?::${type}`,
          append.parentFromSession ? 'prior_leaf' : undefined,
        ),
      [append.now, append.preview, append.leafId, append.sessionId, ...append.messageParams.flat()],
    );
  }

  /**
   * An import is the one write of several statements here: a transaction on one connection.
   * Messages go in batches as one array per column (`unnest`), so the statement text is the same
   * whatever the batch size and far below the 65,535 parameters a statement.
   */
  protected async insertImported(session: unknown[], messages: unknown[][]): Promise<void> {
    const runner = this.dataSource.createQueryRunner();
    await runner.connect();
    try {
      await runner.startTransaction();
      await runner.query(this.numbered(INSERT_SESSION), session);
      for (let start = 0; start < messages.length; start += IMPORT_BATCH) {
        const batch = messages.slice(start, start + IMPORT_BATCH);
        const columns = IMPORT_COLUMN_TYPES.map((_, column) => batch.map((row) => row[column]));
        await runner.query(INSERT_MESSAGE_ARRAYS, columns);
      }
      await runner.commitTransaction();
    } catch (error) {
      if (runner.isTransactionActive) await runner.rollbackTransaction();
      throw error;
    } finally {
      await runner.release();
    }
  }

  protected async changeMessage(change: MessageChange): Promise<RawRow[]> {
    const { preview } = change;
    // Only the newest message (seq = message_count) is the session's preview.
    return this.query(
      `WITH message AS (${change.message}), session AS (UPDATE chat_sessions s SET updated_at = ?${
        preview
          ? ', last_message = CASE WHEN s.message_count = message.seq THEN ? ELSE s.last_message END'
          : ''
      } FROM message WHERE s.id = message.session_id) SELECT * FROM message`,
      [...change.messageParams, change.now, ...(preview ? [preview] : [])],
    );
  }

  protected async checkpointRows(rows: CheckpointRow[], now: unknown): Promise<void> {
    await this.query(CHECKPOINT_REPLIES, [
      rows.map((row) => row.messageId),
      rows.map((row) => row.sessionId),
      rows.map((row) => row.content),
      rows.map((row) => row.preview),
      now,
    ]);
  }

  /** The statement in node-postgres' placeholder style. */
  private numbered(sql: string): string {
    let text = this.texts.get(sql);
    if (!text) {
      text = numberedPlaceholders(sql);
      this.texts.set(sql, text);
    }
    return text;
  }
}
