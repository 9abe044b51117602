import { InjectRepository } from '@nestjs/typeorm';
import { DataSource, Repository } from 'typeorm';
import { ChatMessage } from '../entities/chat-message.entity';
import { ChatSession } from '../entities/chat-session.entity';
import { SessionNotFoundError } from '../history.errors';
import { definedFields, newMessageRecord, newSessionRecord } from '../history-records';
import type {
  HistoryUsage,
  MessageFeedback,
  MessagePatch,
  MessageRecord,
  NewMessage,
  Page,
  PageRequest,
  PendingReply,
  ReplyCheckpoint,
  SessionRecord,
  SessionSettings,
  TreeNode,
} from '../history-store.interface';
import { messagePreview } from '../message-preview';
import {
  attachmentsColumn,
  MESSAGE_COLUMNS,
  MESSAGE_INSERT_COLUMNS,
  PATCH_COLUMNS,
  patchColumnValue,
  RawRow,
  SESSION_COLUMNS,
  SETTINGS_COLUMNS,
  SqlHistoryRowMapper,
  toolCallsColumn,
} from './sql-history-rows';
import { HistoryStoreBase } from './history-store.base';

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

/** Messages to append to a session, numbered from its raised counter in one atomic write. */
export interface MessageAppend {
  sessionId: string;
  count: number;
  /** The session's new updated_at, in the driver's format. */
  now: unknown;
  /** The newest non-empty preview of the messages, or null to keep the session's. */
  preview: string | null;
  /** The last message's id: the session's new active leaf. */
  leafId: string;
  /** True when the first message's parent is the session's active leaf before the append. */
  parentFromSession: boolean;
  /**
   * Each message's 10 insert parameters (id, parent_id, role, content, status, model,
   * prompt_tokens, completion_tokens, error, created_at); the first one's parent_id is left out
   * when `parentFromSession`.
   */
  messageParams: unknown[][];
}

export const INSERT_SESSION = `INSERT INTO chat_sessions (${SESSION_COLUMNS}) VALUES (${Array(12)
  .fill('?')
  .join(', ')})`;

/** Raises a session's message_count by `count`; parameters: updated_at, preview, active leaf, id. */
export function counterUpdate(count: number): string {
  return (
    `UPDATE chat_sessions SET message_count = message_count + ${count}, updated_at = ?, ` +
    'last_message = COALESCE(?, last_message), active_leaf_id = ? WHERE id = ?'
  );
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

/** Replies per statement (or per transaction on SQLite) of checkpointReplies. */
export const CHECKPOINT_BATCH = 500;

/** One reply of a checkpoint batch, with its session preview ('' keeps the session's). */
export interface CheckpointRow {
  messageId: string;
  sessionId: string;
  content: string;
  preview: string;
}

/**
 * The SQL shared by SqliteHistoryStore and PostgresHistoryStore: every operation that is one
 * statement on both. Each subclass runs statements, and writes that take several, its own way.
 */
export abstract class SqlHistoryStore extends HistoryStoreBase {
  protected readonly mapper: SqlHistoryRowMapper;
  /** TypeORM's connection, whose driver the subclasses run statements on. */
  protected readonly dataSource: DataSource;

  constructor(
    @InjectRepository(ChatSession) sessions: Repository<ChatSession>,
    @InjectRepository(ChatMessage) messages: Repository<ChatMessage>,
  ) {
    super();
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
  /**
   * Raises the counter, moves the active leaf and inserts the messages numbered from the counter
   * (the first under the previous leaf when `parentFromSession`) atomically; the (id, seq) rows.
   */
  protected abstract insertNumbered(append: MessageAppend): Promise<RawRow[]>;
  /**
   * Inserts an imported session (INSERT_SESSION's parameters) and its messages (each row in
   * MESSAGE_COLUMNS order) in one transaction.
   */
  protected abstract insertImported(session: unknown[], messages: unknown[][]): Promise<void>;
  /** Runs the message change and updates the session with it atomically; the message rows. */
  protected abstract changeMessage(change: MessageChange): Promise<RawRow[]>;
  /**
   * Sets the content of the rows' messages that are still pending and updates their sessions
   * (updated_at = `now`; the preview when the message is the newest) atomically.
   */
  protected abstract checkpointRows(rows: CheckpointRow[], now: unknown): Promise<void>;

  async createSession(
    userId: string,
    title: string | null = null,
    settings?: SessionSettings,
  ): Promise<SessionRecord> {
    const session = newSessionRecord(userId, title, new Date(), settings);
    await this.query(INSERT_SESSION, this.sessionParams(session));
    return session;
  }

  async updateSettings(
    userId: string,
    sessionId: string,
    patch: Partial<SessionSettings>,
  ): Promise<SessionRecord | null> {
    if (!userId || !sessionId) return null;
    const changes = Object.entries(patch).filter(([, value]) => value !== undefined) as [
      keyof SessionSettings,
      unknown,
    ][];
    const rows = await this.query(
      changes.length
        ? `UPDATE chat_sessions SET ${changes
            .map(([field]) => `${SETTINGS_COLUMNS[field]} = ?`)
            .join(', ')} WHERE id = ? AND user_id = ? RETURNING ${SESSION_COLUMNS}`
        : `SELECT ${SESSION_COLUMNS} FROM chat_sessions WHERE id = ? AND user_id = ?`,
      [...changes.map(([, value]) => value), sessionId, userId],
    );
    return rows.length ? this.mapper.session(rows[0]) : null;
  }

  /** INSERT_SESSION's parameters. */
  private sessionParams(session: SessionRecord): unknown[] {
    return [
      session.id,
      session.userId,
      session.title,
      session.messageCount,
      session.lastMessage,
      session.activeLeafId,
      this.mapper.sessionDate(session.createdAt),
      this.mapper.sessionDate(session.updatedAt),
      session.settings.systemPrompt,
      session.settings.model,
      session.settings.temperature,
      session.settings.maxTokens,
    ];
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

  async usageByUser(userIds: string[]): Promise<Map<string, HistoryUsage>> {
    const usage = new Map<string, HistoryUsage>();
    if (userIds.length === 0) return usage;
    const rows = await this.query(
      'SELECT s.user_id AS user_id, COUNT(DISTINCT s.id) AS sessions, COUNT(m.id) AS messages, ' +
        'COALESCE(SUM(m.prompt_tokens), 0) AS prompt_tokens, ' +
        'COALESCE(SUM(m.completion_tokens), 0) AS completion_tokens ' +
        'FROM chat_sessions s LEFT JOIN chat_messages m ON m.session_id = s.id ' +
        `WHERE s.user_id IN (${userIds.map(() => '?').join(', ')}) GROUP BY s.user_id`,
      userIds,
    );
    for (const row of rows) {
      usage.set(String(row.user_id), {
        sessions: Number(row.sessions),
        messages: Number(row.messages),
        promptTokens: Number(row.prompt_tokens),
        completionTokens: Number(row.completion_tokens),
      });
    }
    return usage;
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
    // Each message's seq is read from the raised counter in the same transaction; each message
    // after the first is the child of the one before it.
    const records = messages.map((message) => newMessageRecord(sessionId, 0, null, message, now));
    records.forEach((record, index) => {
      record.parentId = index ? records[index - 1].id : (messages[0].parentId ?? null);
    });
    const parentFromSession = messages[0].parentId === undefined;
    const inserted = await this.insertNumbered({
      sessionId,
      count,
      now: this.mapper.sessionDate(now),
      preview,
      leafId: records[count - 1].id,
      parentFromSession,
      messageParams: records.map((record, index) => [
        record.id,
        ...(index === 0 && parentFromSession ? [] : [record.parentId]),
        record.role,
        record.content,
        record.status,
        record.model,
        record.promptTokens,
        record.completionTokens,
        record.error,
        this.mapper.messageDate(now),
        attachmentsColumn(record.attachments),
      ]),
    });
    if (inserted.length !== count) throw new SessionNotFoundError();
    const byId = new Map(inserted.map((row) => [row.id as string, row]));
    return records.map((record) => {
      const row = byId.get(record.id)!;
      return {
        ...record,
        seq: Number(row.seq),
        parentId: (row.parent_id as string | null) ?? null,
      };
    });
  }

  protected async changeMessageIf(
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
      messageParams: [
        ...changes.map(([field, value]) => patchColumnValue(field, value)),
        messageId,
        sessionId,
      ],
      now: this.mapper.sessionDate(new Date()),
      preview: patch.content === undefined ? '' : messagePreview(patch.content),
    });
    return rows.length ? this.mapper.message(rows[0]) : null;
  }

  async checkpointReplies(batch: ReplyCheckpoint[]): Promise<void> {
    const now = this.mapper.sessionDate(new Date());
    const rows = batch.map(({ messageId, sessionId, content }) => ({
      messageId,
      sessionId,
      content,
      preview: messagePreview(content),
    }));
    for (let start = 0; start < rows.length; start += CHECKPOINT_BATCH) {
      await this.checkpointRows(rows.slice(start, start + CHECKPOINT_BATCH), now);
    }
  }

  async setActiveLeaf(
    userId: string,
    sessionId: string,
    leafId: string,
  ): Promise<SessionRecord | null> {
    if (!userId || !sessionId || !leafId) return null;
    // Switching branches is not activity: updated_at (and so the list order) stays as it was.
    const rows = await this.query(
      'UPDATE chat_sessions SET active_leaf_id = ? WHERE id = ? AND user_id = ? AND EXISTS ' +
        `(SELECT 1 FROM chat_messages m WHERE m.id = ? AND m.session_id = ?) RETURNING ${SESSION_COLUMNS}`,
      [leafId, sessionId, userId, leafId, sessionId],
    );
    return rows.length ? this.mapper.session(rows[0]) : null;
  }

  async setFeedback(
    sessionId: string,
    messageId: string,
    feedback: MessageFeedback | null,
  ): Promise<MessageRecord | null> {
    if (!sessionId || !messageId) return null;
    const rows = await this.query(
      'UPDATE chat_messages SET feedback_rating = ?, feedback_comment = ? ' +
        `WHERE id = ? AND session_id = ? RETURNING ${MESSAGE_COLUMNS}`,
      [feedback?.rating ?? null, feedback?.comment ?? null, messageId, sessionId],
    );
    return rows.length ? this.mapper.message(rows[0]) : null;
  }

  async importSession(session: SessionRecord, messages: MessageRecord[]): Promise<void> {
    await this.insertImported(
      this.sessionParams(session),
      messages.map((m) => [
        m.id,
        m.sessionId,
        m.seq,
        m.parentId,
        m.role,
        m.content,
        m.status,
        m.model,
        m.promptTokens,
        m.completionTokens,
        m.error,
        this.mapper.messageDate(m.createdAt),
        attachmentsColumn(m.attachments),
        m.feedback?.rating ?? null,
        m.feedback?.comment ?? null,
        toolCallsColumn(m.toolCalls),
      ]),
    );
  }

  async listTreeNodes(sessionId: string): Promise<TreeNode[]> {
    if (!sessionId) return [];
    const rows = await this.query(
      'SELECT id, parent_id, seq FROM chat_messages WHERE session_id = ? ORDER BY seq ASC',
      [sessionId],
    );
    return rows.map((row) => ({
      id: row.id as string,
      parentId: (row.parent_id as string | null) ?? null,
      seq: Number(row.seq),
    }));
  }

  async getMessages(sessionId: string, ids: string[]): Promise<MessageRecord[]> {
    if (!sessionId || !ids.length) return [];
    const rows = await this.query(
      `SELECT ${MESSAGE_COLUMNS} FROM chat_messages WHERE session_id = ? AND id IN (${ids
        .map(() => '?')
        .join(', ')}) ORDER BY seq ASC`,
      [sessionId, ...ids],
    );
    return rows.map((row) => this.mapper.message(row));
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
 * `source` (its row has the session's id and message_count); 11 parameters per message (10 for the
 * first when `firstParent` names the source column holding its parent), plus whatever `source`
 * takes after each. `param` writes a placeholder of a column type.
 */
export function insertMessagesFrom(
  count: number,
  source: string,
  param: (type: 'varchar' | 'text' | 'integer' | 'timestamp') => string,
  firstParent?: string,
): string {
  const selects = Array.from({ length: count }, (_, index) => {
    const values = [
      param('varchar'),
      'id',
      `message_count - ${count - 1 - index}`,
      index === 0 && firstParent ? firstParent : param('varchar'),
      param('varchar'),
      param('text'),
      param('varchar'),
      param('varchar'),
      param('integer'),
      param('integer'),
      param('text'),
      param('timestamp'),
      param('text'),
    ];
    return `SELECT ${values.join(', ')} ${source}`;
  });
  return `INSERT INTO chat_messages (${MESSAGE_INSERT_COLUMNS}) ${selects.join(' UNION ALL ')} RETURNING id, seq, parent_id`;
}
