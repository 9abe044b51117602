import { Injectable } from '@nestjs/common';
import type { Database, Statement } from 'better-sqlite3';
import type { Driver } from 'typeorm/driver/Driver';
import { openSqliteHandle } from '../../database/sqlite-handle';
import { MESSAGE_COLUMNS, type RawRow } from './sql-history-rows';

const INSERT_MESSAGE_ROW = `INSERT INTO chat_messages (${MESSAGE_COLUMNS}) VALUES (${Array(16)
  .fill('?')
  .join(', ')})`;
const CHECKPOINT_MESSAGE =
  "UPDATE chat_messages SET content = ? WHERE id = ? AND session_id = ? AND status = 'pending' RETURNING seq";
/** Only the newest message (seq = message_count) with some text is the session's preview. */
const CHECKPOINT_SESSION =
  'UPDATE chat_sessions SET updated_at = ?, last_message = CASE WHEN message_count = ? ' +
  "AND ? <> '' THEN ? ELSE last_message END WHERE id = ?";
import {
  CheckpointRow,
  counterUpdate,
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

/**
 * History in SQLite: statements run on better-sqlite3's own handle as cached prepared statements,
 * and every write is one synchronous transaction, so writes never interleave (no lock needed).
 */
@Injectable()
export class SqliteHistoryStore extends SqlHistoryStore {
  protected readonly caseInsensitiveLike = 'LIKE';
  private readonly statements = new SqliteStatements(this.dataSource.driver);

  protected async query(sql: string, parameters: unknown[]): Promise<RawRow[]> {
    return this.statements.all(sql, parameters);
  }

  protected async deleteOwnedSession(userId: string, sessionId: string): Promise<boolean> {
    return this.statements.transaction(() => {
      this.statements.run(DELETE_SESSION_MESSAGES, [sessionId, userId]);
      return this.statements.all(DELETE_SESSION, [sessionId, userId]).length > 0;
    });
  }

  protected async deleteUserHistory(userId: string): Promise<void> {
    this.statements.transaction(() => {
      this.statements.run(DELETE_USER_MESSAGES, [userId]);
      this.statements.run(DELETE_USER_SESSIONS, [userId]);
    });
  }

  protected async insertNumbered(append: MessageAppend): Promise<RawRow[]> {
    const { sessionId } = append;
    const insert = insertMessagesFrom(append.count, 'FROM chat_sessions WHERE id = ?', () => '?');
    return this.statements.transaction(() => {
      const messageParams = append.messageParams.map((params) => [...params]);
      if (append.parentFromSession) {
        // Read inside the transaction, before the counter moves the leaf to the new message.
        const [session] = this.statements.all(
          'SELECT active_leaf_id FROM chat_sessions WHERE id = ?',
          [sessionId],
        );
        messageParams[0].splice(1, 0, session?.active_leaf_id ?? null);
      }
      this.statements.run(counterUpdate(append.count), [
        append.now,
        append.preview,
        append.leafId,
        sessionId,
      ]);
      return this.statements.all(
        insert,
        messageParams.flatMap((params) => [...params, sessionId]),
      );
    });
  }

  protected async insertImported(session: unknown[], messages: unknown[][]): Promise<void> {
    // One prepared row INSERT, run per message: in a synchronous transaction that is as fast as
    // a multi-row statement, and the statement cache keeps one text whatever the size.
    this.statements.transaction(() => {
      this.statements.run(INSERT_SESSION, session);
      for (const row of messages) this.statements.run(INSERT_MESSAGE_ROW, row);
    });
  }

  protected async changeMessage(change: MessageChange): Promise<RawRow[]> {
    const { sessionId, now, preview } = change;
    return this.statements.transaction(() => {
      const updated = this.statements.all(change.message, change.messageParams);
      if (!updated.length) return updated;
      // Only the newest message (seq = message_count) is the session's preview.
      this.statements.run(
        preview
          ? 'UPDATE chat_sessions SET updated_at = ?, last_message = CASE WHEN message_count = ? THEN ? ELSE last_message END WHERE id = ?'
          : 'UPDATE chat_sessions SET updated_at = ? WHERE id = ?',
        preview ? [now, updated[0].seq, preview, sessionId] : [now, sessionId],
      );
      return updated;
    });
  }

  protected async checkpointRows(rows: CheckpointRow[], now: unknown): Promise<void> {
    this.statements.transaction(() => {
      for (const { messageId, sessionId, content, preview } of rows) {
        const [updated] = this.statements.all(CHECKPOINT_MESSAGE, [content, messageId, sessionId]);
        if (!updated) continue;
        this.statements.run(CHECKPOINT_SESSION, [now, updated.seq, preview, preview, sessionId]);
      }
    });
  }
}

/**
 * Statements straight on better-sqlite3's handle (the one TypeORM opened), prepared once. The
 * driver is synchronous: a transaction here runs start to end without yielding to the event loop.
 */
class SqliteStatements {
  private readonly statements = new Map<string, Statement>();
  private database: Database | undefined;

  constructor(private readonly driver: Driver) {}

  /** Rows of a SELECT or `… RETURNING` statement; none for any other. */
  all(sql: string, parameters: unknown[]): RawRow[] {
    const statement = this.statement(sql);
    if (statement.reader) return statement.all(...parameters) as RawRow[];
    statement.run(...parameters);
    return [];
  }

  run(sql: string, parameters: unknown[]): void {
    this.statement(sql).run(...parameters);
  }

  /** Runs `work` in one transaction (rolled back when it throws). */
  transaction<T>(work: () => T): T {
    return this.handle().transaction(work)();
  }

  private statement(sql: string): Statement {
    const handle = this.handle();
    let statement = this.statements.get(sql);
    if (!statement) {
      statement = handle.prepare(sql);
      this.statements.set(sql, statement);
    }
    return statement;
  }

  /** The open handle; statements prepared on an earlier one (closed, reconnected) are dropped. */
  private handle(): Database {
    const current = openSqliteHandle(this.driver);
    if (!current) throw new Error('The SQLite connection is not open');
    if (current !== this.database) {
      this.statements.clear();
      this.database = current;
    }
    return current;
  }
}
