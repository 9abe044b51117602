import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { EntityManager, In, Repository, SelectQueryBuilder } from 'typeorm';
import type { QueryDeepPartialEntity } from 'typeorm/query-builder/QueryPartialEntity';
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
import { KeyedMutex } from './keyed-mutex';
import { messagePreview } from './message-preview';
import { newHistoryId } from './session-id';

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
 */
@Injectable()
export class SqlHistoryStore implements HistoryStore {
  private readonly sqliteWrites = new KeyedMutex();
  private readonly isSqlite: boolean;

  constructor(
    @InjectRepository(ChatSession) private readonly sessions: Repository<ChatSession>,
    @InjectRepository(ChatMessage) private readonly messages: Repository<ChatMessage>,
  ) {
    this.isSqlite = sessions.manager.connection.options.type !== 'postgres';
  }

  async createSession(userId: string, title: string | null = null): Promise<SessionRecord> {
    const now = new Date();
    const session: ChatSession = {
      id: newHistoryId(),
      userId,
      title,
      messageCount: 0,
      lastMessage: null,
      createdAt: now,
      updatedAt: now,
    };
    await this.write((em) => em.insert(ChatSession, session));
    return toSessionRecord(session);
  }

  async getSession(userId: string, sessionId: string): Promise<SessionRecord | null> {
    if (!userId || !sessionId) return null;
    const session = await this.sessions.findOneBy({ id: sessionId, userId });
    return session ? toSessionRecord(session) : null;
  }

  async listSessions(
    userId: string,
    page: PageRequest,
    query?: string,
  ): Promise<Page<SessionRecord>> {
    const search = query?.trim();
    const scoped = (qb: SelectQueryBuilder<ChatSession>) => {
      qb.where('s.userId = :userId', { userId });
      if (search) {
        const like = this.isSqlite ? 'LIKE' : 'ILIKE';
        // SQLite's LIKE is case-insensitive for ASCII letters only; Postgres' ILIKE for all.
        qb.andWhere(
          `EXISTS (SELECT 1 FROM chat_messages m WHERE m.session_id = s.id AND m.content ${like} :pattern ESCAPE '\\')`,
          { pattern: `%${escapeLikePattern(search)}%` },
        );
      }
      return qb;
    };

    const [idRows, countRow] = await Promise.all([
      scoped(this.sessions.createQueryBuilder('s'))
        .select('s.id', 'id')
        .orderBy('s.updatedAt', 'DESC')
        .addOrderBy('s.id', 'DESC')
        .offset((page.page - 1) * page.perPage)
        .limit(page.perPage)
        .getRawMany<{ id: string }>(),
      scoped(this.sessions.createQueryBuilder('s'))
        .select('COUNT(*)', 'total')
        .getRawOne<{ total: string | number }>(),
    ]);
    const ids = idRows.map((row) => row.id);
    const rows = ids.length ? await this.sessions.findBy({ id: In(ids) }) : [];
    const byId = new Map(rows.map((row) => [row.id, row]));
    const items = ids
      .map((id) => byId.get(id))
      .filter((row): row is ChatSession => row !== undefined)
      .map(toSessionRecord);
    return { items, total: Number(countRow?.total ?? 0) };
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
      const changes: QueryDeepPartialEntity<ChatSession> = {
        messageCount: () => 'message_count + 1',
        updatedAt: now,
      };
      // A reply that has no text yet keeps the previous preview until updateMessage fills it.
      if (preview) changes.lastMessage = preview;
      const result = await em
        .createQueryBuilder()
        .update(ChatSession)
        .set(changes)
        .where('id = :sessionId', { sessionId })
        .execute();
      if (!result.affected) throw new SessionNotFoundError();
      const counter = await em
        .createQueryBuilder(ChatSession, 's')
        .select('s.messageCount', 'seq')
        .where('s.id = :sessionId', { sessionId })
        .getRawOne<{ seq: number | string }>();
      const row: ChatMessage = {
        id: newHistoryId(),
        sessionId,
        seq: Number(counter!.seq),
        role: message.role,
        content: message.content,
        status: message.status,
        model: message.model ?? null,
        promptTokens: message.promptTokens ?? null,
        completionTokens: message.completionTokens ?? null,
        error: message.error ?? null,
        createdAt: now,
      };
      await em.insert(ChatMessage, row);
      return toMessageRecord(row);
    });
  }

  async updateMessage(
    sessionId: string,
    messageId: string,
    patch: MessagePatch,
  ): Promise<MessageRecord> {
    if (!sessionId || !messageId) throw new MessageNotFoundError();
    const changes = definedFields(patch);
    return this.write(async (em) => {
      const existing = await em.findOneBy(ChatMessage, { id: messageId, sessionId });
      if (!existing) throw new MessageNotFoundError();
      if (Object.keys(changes).length) {
        await em.update(ChatMessage, { id: messageId }, changes);
      }
      const updated: ChatMessage = { ...existing, ...changes };
      const preview = changes.content === undefined ? '' : messagePreview(changes.content);
      const sessionChanges: QueryDeepPartialEntity<ChatSession> = { updatedAt: new Date() };
      // Only the newest message (seq = message_count) is the session's preview.
      if (preview) {
        sessionChanges.lastMessage = () =>
          'CASE WHEN message_count = :seq THEN :preview ELSE last_message END';
      }
      await em
        .createQueryBuilder()
        .update(ChatSession)
        .set(sessionChanges)
        .where('id = :sessionId', { sessionId })
        .setParameters({ seq: existing.seq, preview })
        .execute();
      return toMessageRecord(updated);
    });
  }

  async listMessages(sessionId: string, page: PageRequest): Promise<Page<MessageRecord>> {
    if (!sessionId) return { items: [], total: 0 };
    const [rows, countRow] = await Promise.all([
      this.messages.find({
        where: { sessionId },
        order: { seq: 'ASC' },
        skip: (page.page - 1) * page.perPage,
        take: page.perPage,
      }),
      this.messages
        .createQueryBuilder('m')
        .select('COUNT(*)', 'total')
        .where('m.sessionId = :sessionId', { sessionId })
        .getRawOne<{ total: string | number }>(),
    ]);
    return { items: rows.map(toMessageRecord), total: Number(countRow?.total ?? 0) };
  }

  async recentMessages(sessionId: string, limit: number): Promise<MessageRecord[]> {
    if (!sessionId || limit <= 0) return [];
    const rows = await this.messages.find({
      where: { sessionId },
      order: { seq: 'DESC' },
      take: limit,
    });
    return rows.reverse().map(toMessageRecord);
  }

  private write<T>(work: (em: EntityManager) => Promise<T>): Promise<T> {
    const transaction = () => this.sessions.manager.transaction(work);
    return this.isSqlite ? this.sqliteWrites.run('sqlite', transaction) : transaction();
  }
}

function definedFields(patch: MessagePatch): MessagePatch {
  return Object.fromEntries(Object.entries(patch).filter(([, value]) => value !== undefined));
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
