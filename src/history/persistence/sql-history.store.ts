import { InjectRepository } from '@nestjs/typeorm';
import { DataSource, Repository } from 'typeorm';
import { ChatMessage } from '../entities/chat-message.entity';
import { ChatSession } from '../entities/chat-session.entity';
import { MessageNotFoundError, SessionNotFoundError } from '../history.errors';
import { definedFields, newMessageRecord, newSessionRecord } from '../history-records';
import type {
  HistoryStore,
  MessagePatch,
  MessageRecord,
  NewMessage,
  Page,
  PageRequest,
  PendingReply,
  SessionRecord,
} from '../history-store.interface';
import { messagePreview } from '../message-preview';
import {
  MESSAGE_COLUMNS,
  PATCH_COLUMNS,
  RawRow,
  SESSION_COLUMNS,
  SqlHistoryRowMapper,
} from './sql-history-rows';

/** Escapes LIKE wildcards so `q` is matched literally; pairs with `ESCAPE '\'`. */
export function escapeLikePattern(text: string): string {
  return text.replace(/[\\%_]/g, (char) => `\\${char}`);
}

// Messages are deleted explicitly, so no result depends on SQLite's foreign_keys pragma.
export const DELETE_SESSION_MESSAGES =
  'DELETE FROM chat_messages WHERE session_id = (SELECT id FROM chat_sessions WHERE id = ? AND user_id = ?)';
export const DELETE_SESSION = 'DELETE FROM chat_sessions WHERE id = ? AND user_id = ? RETURNING id';
export const DELETE_USER_MESSAGES =
  'DELETE FROM chat_messages WHERE session_id IN (SELECT id FROM chat_sessions WHERE user_id = ?)';
export const DELETE_USER_SESSIONS = 'DELETE FROM chat_sessions WHERE user_id = ?';

/** Messages to append: the session counter's UPDATE and each message's 9 insert parameters. */
export interface MessageAppend {
  sessionId: string;
  count: number;
  /** Raises message_count by `count`; parameters in `counterParams`. */
  counter: string;
  counterParams: unknown[];
  messageParams: unknown[][];
}

/** A message change: its UPDATE (or SELECT when nothing changes) `… RETURNING` the message row. */
export interface MessageChange {
  sessionId: string;
  message: string;
  messageParams: unknown[];
  /** The session's new updated_at, in the driver's format. */
  now: unknown;
  /** The new preview, or '' when the content did not change. */
  preview: string;
}

/**
 * The SQL shared by SqliteHistoryStore and PostgresHistoryStore: every operation that is one
 * statement on both. Each subclass runs statements, and writes that take several, its own way.
 */
export abstract class SqlHistoryStore implements HistoryStore {
  protected readonly mapper: SqlHistoryRowMapper;
  /** TypeORM's connection, whose driver the subclasses run statements on. */
  protected readonly dataSource: DataSource;

  constructor(
    @InjectRepository(ChatSession) sessions: Repository<ChatSession>,
    @InjectRepository(ChatMessage) messages: Repository<ChatMessage>,
  ) {
    this.mapper = new SqlHistoryRowMapper(sessions, messages);
    this.dataSource = sessions.manager.connection;
  }

  /** The dialect's case-insensitive LIKE. */
  protected abstract readonly caseInsensitiveLike: 'LIKE' | 'ILIKE';
  /** One statement (a single statement is atomic on its own); its rows (SELECT or RETURNING). */
  protected abstract query(sql: string, parameters: unknown[]): Promise<RawRow[]>;
  /** DELETE_SESSION_MESSAGES then DELETE_SESSION, atomically; true when the session existed. */
  protected abstract deleteOwnedSession(userId: string, sessionId: string): Promise<boolean>;
  /** DELETE_USER_MESSAGES then DELETE_USER_SESSIONS, atomically. */
  protected abstract deleteUserHistory(userId: string): Promise<void>;
  /** Raises the counter and inserts the messages numbered from it atomically; the (id, seq) rows. */
  protected abstract insertNumbered(append: MessageAppend): Promise<RawRow[]>;
  /** Runs the message change and updates the session with it atomically; the message rows. */
  protected abstract changeMessage(change: MessageChange): Promise<RawRow[]>;

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
        this.mapper.sessionDate(session.createdAt),
        this.mapper.sessionDate(session.updatedAt),
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
    return rows.length ? this.mapper.session(rows[0]) : null;
  }

  async listSessions(
    userId: string,
    page: PageRequest,
    query?: string,
  ): Promise<Page<SessionRecord>> {
    const search = query?.trim();
    // SQLite's LIKE is case-insensitive for ASCII letters only; Postgres' ILIKE for all.
    const filter = search
      ? ` AND EXISTS (SELECT 1 FROM chat_messages m WHERE m.session_id = s.id AND m.content ${this.caseInsensitiveLike} ? ESCAPE '\\')`
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
      items: rows.map((row) => this.mapper.session(row)),
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
    return rows.length ? this.mapper.session(rows[0]) : null;
  }

  async deleteSession(userId: string, sessionId: string): Promise<boolean> {
    if (!userId || !sessionId) return false;
    return this.deleteOwnedSession(userId, sessionId);
  }

  async deleteAllForUser(userId: string): Promise<void> {
    if (!userId) return;
    await this.deleteUserHistory(userId);
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
    // Each message's seq is read from the raised counter in the same transaction.
    const records = messages.map((message) => newMessageRecord(sessionId, 0, message, now));
    const inserted = await this.insertNumbered({
      sessionId,
      count,
      counter: `UPDATE chat_sessions SET message_count = message_count + ${count}, updated_at = ?, last_message = COALESCE(?, last_message) WHERE id = ?`,
      counterParams: [this.mapper.sessionDate(now), preview, sessionId],
      messageParams: records.map((record) => [
        record.id,
        record.role,
        record.content,
        record.status,
        record.model,
        record.promptTokens,
        record.completionTokens,
        record.error,
        this.mapper.messageDate(now),
      ]),
    });
    if (inserted.length !== count) throw new SessionNotFoundError();
    const seqById = new Map(inserted.map((row) => [row.id as string, Number(row.seq)]));
    return records.map((record) => ({ ...record, seq: seqById.get(record.id)! }));
  }

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

  private async changeMessageIf(
    sessionId: string,
    messageId: string,
    patch: MessagePatch,
    onlyPending: boolean,
  ): Promise<MessageRecord | null> {
    if (!sessionId || !messageId) return null;
    const changes = Object.entries(definedFields(patch)) as [keyof MessagePatch, unknown][];
    const where = `WHERE id = ? AND session_id = ?${onlyPending ? " AND status = 'pending'" : ''}`;
    const rows = await this.changeMessage({
      sessionId,
      message: changes.length
        ? `UPDATE chat_messages SET ${changes
            .map(([field]) => `${PATCH_COLUMNS[field]} = ?`)
            .join(', ')} ${where} RETURNING ${MESSAGE_COLUMNS}`
        : `SELECT ${MESSAGE_COLUMNS} FROM chat_messages ${where}`,
      messageParams: [...changes.map(([, value]) => value), messageId, sessionId],
      now: this.mapper.sessionDate(new Date()),
      preview: patch.content === undefined ? '' : messagePreview(patch.content),
    });
    return rows.length ? this.mapper.message(rows[0]) : null;
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
      items: rows.map((row) => this.mapper.message(row)),
      total: Number(counter[0]?.message_count ?? 0),
    };
  }

  async recentMessages(sessionId: string, limit: number): Promise<MessageRecord[]> {
    if (!sessionId || limit <= 0) return [];
    const rows = await this.query(
      `SELECT ${MESSAGE_COLUMNS} FROM chat_messages WHERE session_id = ? ORDER BY seq DESC LIMIT ?`,
      [sessionId, limit],
    );
    return rows.reverse().map((row) => this.mapper.message(row));
  }

  async pendingReplies(startedBefore: Date, limit: number): Promise<PendingReply[]> {
    const rows = await this.query(
      `SELECT m.${MESSAGE_COLUMNS.split(', ').join(', m.')}, s.user_id FROM chat_messages m ` +
        `JOIN chat_sessions s ON s.id = m.session_id ` +
        `WHERE m.status = 'pending' AND m.created_at < ? ORDER BY m.created_at ASC LIMIT ?`,
      [this.mapper.messageDate(startedBefore), limit],
    );
    return rows.map((row) => {
      const message = this.mapper.message(row);
      return {
        messageId: message.id,
        sessionId: message.sessionId,
        userId: row.user_id as string,
        content: message.content,
        model: message.model,
        createdAt: message.createdAt,
      };
    });
  }
}

/**
 * `INSERT INTO chat_messages … SELECT` of `count` messages numbered from the raised counter in
 * `source` (its row has the session's id and message_count); 9 parameters per message, plus
 * whatever `source` takes after each. `param` writes a placeholder of a column type.
 */
export function insertMessagesFrom(
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
