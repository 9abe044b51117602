import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { Database, Statement } from 'better-sqlite3';
import { Repository } from 'typeorm';
import type { Driver } from 'typeorm/driver/Driver';
import type { ColumnMetadata } from 'typeorm/metadata/ColumnMetadata';
import { openSqliteHandle } from '../database/sqlite-handle';
import { ChatMessage } from './entities/chat-message.entity';
import { ChatSession } from './entities/chat-session.entity';
import { MessageNotFoundError, SessionNotFoundError } from './history.errors';
import type {
  HistoryStore,
  MessagePatch,
  MessageRecord,
  NewMessage,
  Page,
  PageRequest,
  SessionRecord,
} from './history-store.interface';
import { definedFields, newMessageRecord, newSessionRecord } from './history-records';
import { messagePreview } from './message-preview';

/** Escapes LIKE wildcards so `q` is matched literally; pairs with `ESCAPE '\'`. */
export function escapeLikePattern(text: string): string {
  return text.replace(/[\\%_]/g, (char) => `\\${char}`);
}

/**
 * History in the SQL database (SQLite or PostgreSQL), as plain SQL on TypeORM's connection.
 *
 * Ordering and pagination: a user's sessions are listed by (updated_at DESC, id DESC), which is
 * exactly the (user_id, updated_at, id) index read backwards. The contract asks for
 * page/per_page/total, so this is offset pagination, kept cheap at millions of rows by
 * running the OFFSET over that index only: the first query selects just the page's ids (all
 * three columns live in the index, so Postgres does an index-only scan and SQLite uses it as a
 * covering index — skipped rows cost an index entry each, never a table row), the second loads
 * those ≤ 100 rows by primary key. `total` is a COUNT(*) over the same index range. Both costs
 * grow with one user's session count, never with the size of the table. `seq` is dense
 * (1…message_count, only appendMessages assigns it, messages are only deleted with their
 * session), so a message page is a `seq` range: any page is an index seek, and the total is the
 * session's counter.
 *
 * Atomic `seq`: appending raises the session's message_count and inserts the messages numbered
 * from it in one transaction; the unique (session_id, seq) index backs it.
 *
 * Why plain SQL rather than query builders and entities: building and hydrating a TypeORM query
 * costs ~0.1–0.3 ms of CPU each, several times the database's own work, and the chat path runs
 * several per turn (bench/RESULTS.md). The two databases are driven the way each is cheapest:
 * - SQLite (better-sqlite3) is synchronous, so statements run straight on the driver's handle as
 *   cached prepared statements, and each write is one synchronous transaction: it cannot
 *   interleave with another one, so no in-process lock is needed (TypeORM's shared connection
 *   would nest overlapping async transactions as savepoints of each other).
 * - On Postgres every statement is a network round trip, so each write is one statement:
 *   data-modifying CTEs update the session and insert or update its messages atomically. The
 *   session UPDATE takes the row lock, so concurrent appends to one session queue up and each
 *   gets the next numbers.
 * Values go through the driver's own column conversions (SQLite keeps dates as UTC text, Postgres
 * as timestamps), so rows are identical to TypeORM's.
 */
@Injectable()
export class SqlHistoryStore implements HistoryStore {
  private readonly sql: SqlRows;
  /** better-sqlite3's statements; null on Postgres. */
  private readonly sqlite: SqliteStatements | null;

  constructor(
    @InjectRepository(ChatSession) sessions: Repository<ChatSession>,
    @InjectRepository(ChatMessage) messages: Repository<ChatMessage>,
  ) {
    const isSqlite = sessions.manager.connection.options.type !== 'postgres';
    this.sql = new SqlRows(sessions, messages, isSqlite);
    this.sqlite = isSqlite ? new SqliteStatements(sessions.manager.connection.driver) : null;
  }

  async createSession(userId: string, title: string | null = null): Promise<SessionRecord> {
    const session = newSessionRecord(userId, title, new Date());
    await this.query(
      `INSERT INTO chat_sessions (${SESSION_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)`,
      [
        session.id,
        session.userId,
        session.title,
        session.messageCount,
        session.lastMessage,
        this.sql.sessionDate(session.createdAt),
        this.sql.sessionDate(session.updatedAt),
      ],
    );
    return session;
  }

  async getSession(userId: string, sessionId: string): Promise<SessionRecord | null> {
    if (!userId || !sessionId) return null;
    const rows = await this.query(
      `SELECT ${SESSION_COLUMNS} FROM chat_sessions WHERE id = ? AND user_id = ?`,
      [sessionId, userId],
    );
    return rows.length ? this.sql.session(rows[0]) : null;
  }

  async listSessions(
    userId: string,
    page: PageRequest,
    query?: string,
  ): Promise<Page<SessionRecord>> {
    const search = query?.trim();
    // SQLite's LIKE is case-insensitive for ASCII letters only; Postgres' ILIKE for all.
    const filter = search
      ? ` AND EXISTS (SELECT 1 FROM chat_messages m WHERE m.session_id = s.id AND m.content ${
          this.sqlite ? 'LIKE' : 'ILIKE'
        } ? ESCAPE '\\')`
      : '';
    const scope = search ? [userId, `%${escapeLikePattern(search)}%`] : [userId];
    // The OFFSET runs in the subquery over the (user_id, updated_at, id) index alone; only the
    // page's rows are then read from the table.
    const [rows, counted] = await Promise.all([
      this.query(
        `SELECT ${SESSION_COLUMNS} FROM chat_sessions WHERE id IN (` +
          `SELECT s.id FROM chat_sessions s WHERE s.user_id = ?${filter} ` +
          'ORDER BY s.updated_at DESC, s.id DESC LIMIT ? OFFSET ?) ' +
          'ORDER BY updated_at DESC, id DESC',
        [...scope, page.perPage, (page.page - 1) * page.perPage],
      ),
      this.query(
        `SELECT COUNT(*) AS total FROM chat_sessions s WHERE s.user_id = ?${filter}`,
        scope,
      ),
    ]);
    return {
      items: rows.map((row) => this.sql.session(row)),
      total: Number(counted[0]?.total ?? 0),
    };
  }

  async renameSession(
    userId: string,
    sessionId: string,
    title: string,
  ): Promise<SessionRecord | null> {
    if (!userId || !sessionId) return null;
    // Renaming is not activity: updated_at (and so the list order) stays as it was.
    const rows = await this.query(
      `UPDATE chat_sessions SET title = ? WHERE id = ? AND user_id = ? RETURNING ${SESSION_COLUMNS}`,
      [title, sessionId, userId],
    );
    return rows.length ? this.sql.session(rows[0]) : null;
  }

  async deleteSession(userId: string, sessionId: string): Promise<boolean> {
    if (!userId || !sessionId) return false;
    // Messages explicitly too, so the result never depends on SQLite's foreign_keys pragma.
    const deleteMessages =
      'DELETE FROM chat_messages WHERE session_id = (SELECT id FROM chat_sessions WHERE id = ? AND user_id = ?)';
    const deleteSession = 'DELETE FROM chat_sessions WHERE id = ? AND user_id = ? RETURNING id';
    if (this.sqlite) {
      const sqlite = this.sqlite;
      return sqlite.transaction(() => {
        sqlite.run(deleteMessages, [sessionId, userId]);
        return sqlite.all(deleteSession, [sessionId, userId]).length > 0;
      });
    }
    const rows = await this.query(`WITH messages AS (${deleteMessages}) ${deleteSession}`, [
      sessionId,
      userId,
      sessionId,
      userId,
    ]);
    return rows.length > 0;
  }

  async deleteAllForUser(userId: string): Promise<void> {
    if (!userId) return;
    const deleteMessages =
      'DELETE FROM chat_messages WHERE session_id IN (SELECT id FROM chat_sessions WHERE user_id = ?)';
    const deleteSessions = 'DELETE FROM chat_sessions WHERE user_id = ?';
    if (this.sqlite) {
      const sqlite = this.sqlite;
      sqlite.transaction(() => {
        sqlite.run(deleteMessages, [userId]);
        sqlite.run(deleteSessions, [userId]);
      });
      return;
    }
    await this.query(`WITH messages AS (${deleteMessages}) ${deleteSessions}`, [userId, userId]);
  }

  async appendMessage(sessionId: string, message: NewMessage): Promise<MessageRecord> {
    const [record] = await this.appendMessages(sessionId, [message]);
    return record;
  }

  async appendMessages(sessionId: string, messages: NewMessage[]): Promise<MessageRecord[]> {
    if (!sessionId) throw new SessionNotFoundError();
    if (!messages.length) return [];
    const now = new Date();
    const count = messages.length;
    // A reply that has no text yet keeps the previous preview until updateMessage fills it.
    const preview =
      messages
        .map((message) => messagePreview(message.content))
        .filter(Boolean)
        .pop() ?? null;
    const counter = `UPDATE chat_sessions SET message_count = message_count + ${count}, updated_at = ?, last_message = COALESCE(?, last_message) WHERE id = ?`;
    const counterParams = [this.sql.sessionDate(now), preview, sessionId];
    // Each message's seq is read from the raised counter in the same transaction.
    const records = messages.map((message) => newMessageRecord(sessionId, 0, message, now));
    const messageParams = records.map((record) => [
      record.id,
      record.role,
      record.content,
      record.status,
      record.model,
      record.promptTokens,
      record.completionTokens,
      record.error,
      this.sql.messageDate(now),
    ]);
    let inserted: RawRow[];
    if (this.sqlite) {
      const sqlite = this.sqlite;
      inserted = sqlite.transaction(() => {
        sqlite.run(counter, counterParams);
        return sqlite.all(
          insertMessagesFrom(count, 'FROM chat_sessions WHERE id = ?', () => '?'),
          messageParams.flatMap((params) => [...params, sessionId]),
        );
      });
    } else {
      inserted = await this.query(
        `WITH counter AS (${counter} RETURNING id, message_count) ` +
          insertMessagesFrom(count, 'FROM counter', (type) => `?::${type}`),
        [...counterParams, ...messageParams.flat()],
      );
    }
    if (inserted.length !== count) throw new SessionNotFoundError();
    const seqById = new Map(inserted.map((row) => [row.id as string, Number(row.seq)]));
    return records.map((record) => ({ ...record, seq: seqById.get(record.id)! }));
  }

  async updateMessage(
    sessionId: string,
    messageId: string,
    patch: MessagePatch,
  ): Promise<MessageRecord> {
    if (!sessionId || !messageId) throw new MessageNotFoundError();
    const changes = Object.entries(definedFields(patch)) as [keyof MessagePatch, unknown][];
    const message = changes.length
      ? `UPDATE chat_messages SET ${changes
          .map(([field]) => `${PATCH_COLUMNS[field]} = ?`)
          .join(', ')} WHERE id = ? AND session_id = ? RETURNING ${MESSAGE_COLUMNS}`
      : `SELECT ${MESSAGE_COLUMNS} FROM chat_messages WHERE id = ? AND session_id = ?`;
    const messageParams = [...changes.map(([, value]) => value), messageId, sessionId];
    const preview = patch.content === undefined ? '' : messagePreview(patch.content);
    const now = this.sql.sessionDate(new Date());
    let rows: RawRow[];
    if (this.sqlite) {
      const sqlite = this.sqlite;
      rows = sqlite.transaction(() => {
        const updated = sqlite.all(message, messageParams);
        if (!updated.length) return updated;
        // Only the newest message (seq = message_count) is the session's preview.
        sqlite.run(
          preview
            ? 'UPDATE chat_sessions SET updated_at = ?, last_message = CASE WHEN message_count = ? THEN ? ELSE last_message END WHERE id = ?'
            : 'UPDATE chat_sessions SET updated_at = ? WHERE id = ?',
          preview ? [now, updated[0].seq, preview, sessionId] : [now, sessionId],
        );
        return updated;
      });
    } else {
      rows = await this.query(
        `WITH message AS (${message}), session AS (UPDATE chat_sessions s SET updated_at = ?${
          preview
            ? ', last_message = CASE WHEN s.message_count = message.seq THEN ? ELSE s.last_message END'
            : ''
        } FROM message WHERE s.id = message.session_id) SELECT * FROM message`,
        [...messageParams, now, ...(preview ? [preview] : [])],
      );
    }
    if (!rows.length) throw new MessageNotFoundError();
    return this.sql.message(rows[0]);
  }

  async listMessages(sessionId: string, page: PageRequest): Promise<Page<MessageRecord>> {
    if (!sessionId) return { items: [], total: 0 };
    const [rows, counter] = await Promise.all([
      this.query(
        `SELECT ${MESSAGE_COLUMNS} FROM chat_messages WHERE session_id = ? AND seq > ? ORDER BY seq ASC LIMIT ?`,
        [sessionId, (page.page - 1) * page.perPage, page.perPage],
      ),
      this.query('SELECT message_count FROM chat_sessions WHERE id = ?', [sessionId]),
    ]);
    return {
      items: rows.map((row) => this.sql.message(row)),
      total: Number(counter[0]?.message_count ?? 0),
    };
  }

  async recentMessages(sessionId: string, limit: number): Promise<MessageRecord[]> {
    if (!sessionId || limit <= 0) return [];
    const rows = await this.query(
      `SELECT ${MESSAGE_COLUMNS} FROM chat_messages WHERE session_id = ? ORDER BY seq DESC LIMIT ?`,
      [sessionId, limit],
    );
    return rows.reverse().map((row) => this.sql.message(row));
  }

  /** One statement (a single statement is atomic on its own); its rows (SELECT or RETURNING). */
  private async query(sql: string, parameters: unknown[]): Promise<RawRow[]> {
    return this.sqlite ? this.sqlite.all(sql, parameters) : this.sql.query(sql, parameters);
  }
}

/**
 * `INSERT INTO chat_messages … SELECT` of `count` messages numbered from the raised counter in
 * `source` (its row has the session's id and message_count); 9 parameters per message, plus
 * whatever `source` takes after each. `param` writes a placeholder of a column type.
 */
function insertMessagesFrom(
  count: number,
  source: string,
  param: (type: 'varchar' | 'text' | 'integer' | 'timestamp') => string,
): string {
  const selects = Array.from({ length: count }, (_, index) => {
    const values = [
      param('varchar'),
      'id',
      `message_count - ${count - 1 - index}`,
      param('varchar'),
      param('text'),
      param('varchar'),
      param('varchar'),
      param('integer'),
      param('integer'),
      param('text'),
      param('timestamp'),
    ];
    return `SELECT ${values.join(', ')} ${source}`;
  });
  return `INSERT INTO chat_messages (${MESSAGE_COLUMNS}) ${selects.join(' UNION ALL ')} RETURNING id, seq`;
}

type RawRow = Record<string, unknown>;

const SESSION_COLUMNS = 'id, user_id, title, message_count, last_message, created_at, updated_at';
const MESSAGE_COLUMNS =
  'id, session_id, seq, role, content, status, model, prompt_tokens, completion_tokens, error, created_at';
const PATCH_COLUMNS: Record<keyof MessagePatch, string> = {
  content: 'content',
  status: 'status',
  model: 'model',
  promptTokens: 'prompt_tokens',
  completionTokens: 'completion_tokens',
  error: 'error',
};

/**
 * Plain SQL on the store's connection: `?` placeholders (numbered for Postgres), and values
 * converted by the driver exactly as TypeORM converts entity columns (SQLite keeps dates as UTC
 * text, Postgres as timestamps).
 */
class SqlRows {
  private readonly texts = new Map<string, string>();
  private readonly sessionCreated: ColumnMetadata;
  private readonly sessionUpdated: ColumnMetadata;
  private readonly messageCreated: ColumnMetadata;

  constructor(
    private readonly sessions: Repository<ChatSession>,
    messages: Repository<ChatMessage>,
    private readonly isSqlite: boolean,
  ) {
    this.sessionCreated = sessions.metadata.findColumnWithPropertyName('createdAt')!;
    this.sessionUpdated = sessions.metadata.findColumnWithPropertyName('updatedAt')!;
    this.messageCreated = messages.metadata.findColumnWithPropertyName('createdAt')!;
  }

  /** One statement through TypeORM's connection (pooled on Postgres); its rows. */
  async query(sql: string, parameters: unknown[]): Promise<RawRow[]> {
    // The structured result: plain `query()` answers an UPDATE/DELETE with [rows, affected].
    const runner = this.sessions.manager.connection.createQueryRunner();
    try {
      const result = await runner.query(this.text(sql), parameters, true);
      return (result.records ?? []) as RawRow[];
    } finally {
      await runner.release();
    }
  }

  /** The statement in the driver's placeholder style. */
  private text(sql: string): string {
    if (this.isSqlite) return sql;
    let text = this.texts.get(sql);
    if (!text) {
      let n = 0;
      text = sql.replace(/\?/g, () => `$${++n}`);
      this.texts.set(sql, text);
    }
    return text;
  }

  sessionDate(date: Date): unknown {
    return this.driver.preparePersistentValue(date, this.sessionUpdated);
  }

  messageDate(date: Date): unknown {
    return this.driver.preparePersistentValue(date, this.messageCreated);
  }

  session(row: RawRow): SessionRecord {
    return {
      id: row.id as string,
      userId: row.user_id as string,
      title: (row.title as string | null) ?? null,
      messageCount: Number(row.message_count),
      lastMessage: (row.last_message as string | null) ?? null,
      createdAt: this.driver.prepareHydratedValue(row.created_at, this.sessionCreated) as Date,
      updatedAt: this.driver.prepareHydratedValue(row.updated_at, this.sessionUpdated) as Date,
    };
  }

  message(row: RawRow): MessageRecord {
    return {
      id: row.id as string,
      sessionId: row.session_id as string,
      seq: Number(row.seq),
      role: row.role as MessageRecord['role'],
      content: row.content as string,
      status: row.status as MessageRecord['status'],
      model: (row.model as string | null) ?? null,
      promptTokens: nullableNumber(row.prompt_tokens),
      completionTokens: nullableNumber(row.completion_tokens),
      error: (row.error as string | null) ?? null,
      createdAt: this.driver.prepareHydratedValue(row.created_at, this.messageCreated) as Date,
    };
  }

  private get driver() {
    return this.sessions.manager.connection.driver;
  }
}

function nullableNumber(value: unknown): number | null {
  return value === null || value === undefined ? null : Number(value);
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
