import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { EntityManager, Repository } from 'typeorm';
import type { ColumnMetadata } from 'typeorm/metadata/ColumnMetadata';
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
import { KeyedMutex } from './keyed-mutex';
import { messagePreview } from './message-preview';

/** Escapes LIKE wildcards so `q` is matched literally; pairs with `ESCAPE '\'`. */
export function escapeLikePattern(text: string): string {
  return text.replace(/[\\%_]/g, (char) => `\\${char}`);
}

/**
 * History in the SQL database (SQLite or PostgreSQL) through TypeORM.
 *
 * Ordering and pagination: a user's sessions are listed by (updated_at DESC, id DESC), which is
 * exactly the (user_id, updated_at, id) index read backwards. The contract asks for
 * page/per_page/total, so this is offset pagination, kept cheap at millions of rows by
 * running the OFFSET over that index only: the first query selects just the page's ids (all
 * three columns live in the index, so Postgres does an index-only scan and SQLite uses it as a
 * covering index — skipped rows cost an index entry each, never a table row), the second loads
 * those ≤ 100 rows by primary key. `total` is a COUNT(*) over the same index range. Both costs
 * grow with one user's session count, never with the size of the table.
 *
 * Atomic `seq`: appendMessage increments the session's message_count and reads it back in one
 * transaction. On Postgres the UPDATE takes the session row lock, so concurrent appends to one
 * session queue up and each gets the next number; the unique (session_id, seq) index backs it.
 * SQLite has a single writer, but TypeORM shares one connection between all callers, so
 * overlapping transactions would nest as savepoints of each other: writes here are serialised
 * in-process first.
 *
 * The chat hot path (getSession, recentMessages, appendMessage, updateMessage, listMessages) is
 * plain SQL through the same connection rather than query builders: building and hydrating a
 * TypeORM query costs ~0.1–0.3 ms of CPU each, several times the database's own work, and a chat
 * turn makes about a dozen (bench/RESULTS.md). Values still go through the driver's own
 * conversions (dates), so rows are identical either way. `seq` is dense (1…message_count, only
 * appendMessage assigns it, messages are only deleted with their session), so a message page is
 * a `seq` range: any page is an index seek, and the total is the session's counter.
 */
@Injectable()
export class SqlHistoryStore implements HistoryStore {
  private readonly sqliteWrites = new KeyedMutex();
  private readonly isSqlite: boolean;
  private readonly sql: SqlRows;

  constructor(
    @InjectRepository(ChatSession) private readonly sessions: Repository<ChatSession>,
    @InjectRepository(ChatMessage) private readonly messages: Repository<ChatMessage>,
  ) {
    this.isSqlite = sessions.manager.connection.options.type !== 'postgres';
    this.sql = new SqlRows(sessions, messages, this.isSqlite);
  }

  async createSession(userId: string, title: string | null = null): Promise<SessionRecord> {
    const session: ChatSession = newSessionRecord(userId, title, new Date());
    await this.write((em) => em.insert(ChatSession, session));
    return toSessionRecord(session);
  }

  async getSession(userId: string, sessionId: string): Promise<SessionRecord | null> {
    if (!userId || !sessionId) return null;
    const rows = await this.sessions.manager.query<RawRow[]>(
      this.sql.text(`SELECT ${SESSION_COLUMNS} FROM chat_sessions WHERE id = ? AND user_id = ?`),
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
          this.isSqlite ? 'LIKE' : 'ILIKE'
        } ? ESCAPE '\\')`
      : '';
    const scope = search ? [userId, `%${escapeLikePattern(search)}%`] : [userId];
    // The OFFSET runs in the subquery over the (user_id, updated_at, id) index alone; only the
    // page's rows are then read from the table.
    const [rows, counted] = await Promise.all([
      this.sessions.manager.query<RawRow[]>(
        this.sql.text(
          `SELECT ${SESSION_COLUMNS} FROM chat_sessions WHERE id IN (` +
            `SELECT s.id FROM chat_sessions s WHERE s.user_id = ?${filter} ` +
            'ORDER BY s.updated_at DESC, s.id DESC LIMIT ? OFFSET ?) ' +
            'ORDER BY updated_at DESC, id DESC',
        ),
        [...scope, page.perPage, (page.page - 1) * page.perPage],
      ),
      this.sessions.manager.query<RawRow[]>(
        this.sql.text(`SELECT COUNT(*) AS total FROM chat_sessions s WHERE s.user_id = ?${filter}`),
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
    return this.write(async (em) => {
      // Renaming is not activity: updated_at (and so the list order) stays as it was.
      const result = await em
        .createQueryBuilder()
        .update(ChatSession)
        .set({ title, updatedAt: () => 'updated_at' })
        .where('id = :sessionId AND user_id = :userId', { sessionId, userId })
        .execute();
      if (!result.affected) return null;
      const session = await em.findOneBy(ChatSession, { id: sessionId, userId });
      return session ? toSessionRecord(session) : null;
    });
  }

  async deleteSession(userId: string, sessionId: string): Promise<boolean> {
    if (!userId || !sessionId) return false;
    return this.write(async (em) => {
      const owned = await em.existsBy(ChatSession, { id: sessionId, userId });
      if (!owned) return false;
      // Explicit, so the result never depends on SQLite's foreign_keys pragma for the cascade.
      await em.delete(ChatMessage, { sessionId });
      await em.delete(ChatSession, { id: sessionId, userId });
      return true;
    });
  }

  async deleteAllForUser(userId: string): Promise<void> {
    if (!userId) return;
    await this.write(async (em) => {
      await em
        .createQueryBuilder()
        .delete()
        .from(ChatMessage)
        .where('session_id IN (SELECT id FROM chat_sessions WHERE user_id = :userId)', { userId })
        .execute();
      await em.delete(ChatSession, { userId });
    });
  }

  async appendMessage(sessionId: string, message: NewMessage): Promise<MessageRecord> {
    if (!sessionId) throw new SessionNotFoundError();
    const now = new Date();
    const preview = messagePreview(message.content);
    return this.write(async (em) => {
      // A reply that has no text yet keeps the previous preview until updateMessage fills it.
      const counter = await this.sql.run(
        em,
        `UPDATE chat_sessions SET message_count = message_count + 1, updated_at = ?${
          preview ? ', last_message = ?' : ''
        } WHERE id = ? RETURNING message_count`,
        preview
          ? [this.sql.sessionDate(now), preview, sessionId]
          : [this.sql.sessionDate(now), sessionId],
      );
      if (!counter.length) throw new SessionNotFoundError();
      const row: ChatMessage = newMessageRecord(
        sessionId,
        Number(counter[0].message_count),
        message,
        now,
      );
      await this.sql.run(
        em,
        `INSERT INTO chat_messages (${MESSAGE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        [
          row.id,
          row.sessionId,
          row.seq,
          row.role,
          row.content,
          row.status,
          row.model,
          row.promptTokens,
          row.completionTokens,
          row.error,
          this.sql.messageDate(now),
        ],
      );
      return toMessageRecord(row);
    });
  }

  async updateMessage(
    sessionId: string,
    messageId: string,
    patch: MessagePatch,
  ): Promise<MessageRecord> {
    if (!sessionId || !messageId) throw new MessageNotFoundError();
    const changes = Object.entries(definedFields(patch)) as [keyof MessagePatch, unknown][];
    return this.write(async (em) => {
      const rows = changes.length
        ? await this.sql.run(
            em,
            `UPDATE chat_messages SET ${changes
              .map(([field]) => `${PATCH_COLUMNS[field]} = ?`)
              .join(', ')} WHERE id = ? AND session_id = ? RETURNING ${MESSAGE_COLUMNS}`,
            [...changes.map(([, value]) => value), messageId, sessionId],
          )
        : await this.sql.run(
            em,
            `SELECT ${MESSAGE_COLUMNS} FROM chat_messages WHERE id = ? AND session_id = ?`,
            [messageId, sessionId],
          );
      if (!rows.length) throw new MessageNotFoundError();
      const updated = this.sql.message(rows[0]);
      const preview = patch.content === undefined ? '' : messagePreview(patch.content);
      // Only the newest message (seq = message_count) is the session's preview.
      await this.sql.run(
        em,
        preview
          ? 'UPDATE chat_sessions SET updated_at = ?, last_message = CASE WHEN message_count = ? THEN ? ELSE last_message END WHERE id = ?'
          : 'UPDATE chat_sessions SET updated_at = ? WHERE id = ?',
        preview
          ? [this.sql.sessionDate(new Date()), updated.seq, preview, sessionId]
          : [this.sql.sessionDate(new Date()), sessionId],
      );
      return updated;
    });
  }

  async listMessages(sessionId: string, page: PageRequest): Promise<Page<MessageRecord>> {
    if (!sessionId) return { items: [], total: 0 };
    const [rows, counter] = await Promise.all([
      this.sessions.manager.query<RawRow[]>(
        this.sql.text(
          `SELECT ${MESSAGE_COLUMNS} FROM chat_messages WHERE session_id = ? AND seq > ? ORDER BY seq ASC LIMIT ?`,
        ),
        [sessionId, (page.page - 1) * page.perPage, page.perPage],
      ),
      this.sessions.manager.query<RawRow[]>(
        this.sql.text('SELECT message_count FROM chat_sessions WHERE id = ?'),
        [sessionId],
      ),
    ]);
    return {
      items: rows.map((row) => this.sql.message(row)),
      total: Number(counter[0]?.message_count ?? 0),
    };
  }

  async recentMessages(sessionId: string, limit: number): Promise<MessageRecord[]> {
    if (!sessionId || limit <= 0) return [];
    const rows = await this.sessions.manager.query<RawRow[]>(
      this.sql.text(
        `SELECT ${MESSAGE_COLUMNS} FROM chat_messages WHERE session_id = ? ORDER BY seq DESC LIMIT ?`,
      ),
      [sessionId, limit],
    );
    return rows.reverse().map((row) => this.sql.message(row));
  }

  private write<T>(work: (em: EntityManager) => Promise<T>): Promise<T> {
    const transaction = () => this.sessions.manager.transaction(work);
    return this.isSqlite ? this.sqliteWrites.run('sqlite', transaction) : transaction();
  }
}

function toSessionRecord(row: ChatSession): SessionRecord {
  return {
    id: row.id,
    userId: row.userId,
    title: row.title,
    messageCount: Number(row.messageCount),
    lastMessage: row.lastMessage,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  };
}

function toMessageRecord(row: ChatMessage): MessageRecord {
  return {
    id: row.id,
    sessionId: row.sessionId,
    seq: Number(row.seq),
    role: row.role,
    content: row.content,
    status: row.status,
    model: row.model,
    promptTokens: row.promptTokens,
    completionTokens: row.completionTokens,
    error: row.error,
    createdAt: row.createdAt,
  };
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

  /** The statement in the driver's placeholder style. */
  text(sql: string): string {
    if (this.isSqlite) return sql;
    let text = this.texts.get(sql);
    if (!text) {
      let n = 0;
      text = sql.replace(/\?/g, () => `$${++n}`);
      this.texts.set(sql, text);
    }
    return text;
  }

  /** Runs a statement in a transaction; the rows it returned (SELECT or RETURNING). */
  async run(em: EntityManager, sql: string, parameters: unknown[]): Promise<RawRow[]> {
    const result = await em.queryRunner!.query(this.text(sql), parameters, true);
    return (result.records ?? []) as RawRow[];
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
