import { Injectable, OnModuleInit } from '@nestjs/common';
import { InjectModel } from '@nestjs/mongoose';
import type { FilterQuery, Model } from 'mongoose';
import { MessageNotFoundError, SessionNotFoundError } from '../history.errors';
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
import { definedFields, newMessageRecord, newSessionRecord } from '../history-records';
import { KeyedMutex } from '../keyed-mutex';
import { messagePreview } from '../message-preview';
import { MongoChatMessage } from '../schemas/mongo-chat-message.schema';
import { MongoChatSession } from '../schemas/mongo-chat-session.schema';

/** How often appendMessage re-tries after the unique (sessionId, seq) index refused a number. */
const MAX_SEQ_ATTEMPTS = 20;
const DUPLICATE_KEY = 11000;

/** Escapes regex metacharacters so `q` is matched literally (PCRE on MongoDB, RE2 on FerretDB). */
export function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * History in MongoDB or FerretDB 1.x (no transactions, no `$text`): the unique (sessionId, seq)
 * index, an in-process lock per session and a counter resync keep `seq` gap- and duplicate-free.
 */
@Injectable()
export class MongoHistoryStore implements HistoryStore, OnModuleInit {
  private readonly sessionWrites = new KeyedMutex();

  constructor(
    @InjectModel(MongoChatSession.name) private readonly sessions: Model<MongoChatSession>,
    @InjectModel(MongoChatMessage.name) private readonly messages: Model<MongoChatMessage>,
  ) {}

  /** Waits until the schema indexes exist: the unique seq index must be in place before writes. */
  async onModuleInit(): Promise<void> {
    await Promise.all([this.sessions.init(), this.messages.init()]);
  }

  async createSession(userId: string, title: string | null = null): Promise<SessionRecord> {
    const { id, ...fields } = newSessionRecord(userId, title, new Date());
    const doc: MongoChatSession = { _id: id, ...fields };
    await this.sessions.create(doc);
    return toSessionRecord(doc);
  }

  async getSession(userId: string, sessionId: string): Promise<SessionRecord | null> {
    if (!userId || !sessionId) return null;
    const doc = await this.sessions.findOne({ _id: sessionId, userId }).lean<MongoChatSession>();
    return doc ? toSessionRecord(doc) : null;
  }

  async listSessions(
    userId: string,
    page: PageRequest,
    query?: string,
  ): Promise<Page<SessionRecord>> {
    const filter: FilterQuery<MongoChatSession> = { userId };
    const search = query?.trim();
    if (search) {
      const sessionIds = await this.messages.distinct<string>('sessionId', {
        userId,
        content: { $regex: escapeRegex(search), $options: 'i' },
      });
      filter._id = { $in: sessionIds };
    }
    const [docs, total] = await Promise.all([
      this.sessions
        .find(filter)
        .sort({ updatedAt: -1, _id: -1 })
        .skip((page.page - 1) * page.perPage)
        .limit(page.perPage)
        .lean<MongoChatSession[]>(),
      this.sessions.countDocuments(filter),
    ]);
    return { items: docs.map(toSessionRecord), total };
  }

  async renameSession(
    userId: string,
    sessionId: string,
    title: string,
  ): Promise<SessionRecord | null> {
    if (!userId || !sessionId) return null;
    return this.sessionWrites.run(sessionId, async () => {
      // Renaming is not activity: updatedAt (and so the list order) stays as it was.
      const doc = await this.sessions
        .findOneAndUpdate({ _id: sessionId, userId }, { $set: { title } }, { new: true })
        .lean<MongoChatSession>();
      return doc ? toSessionRecord(doc) : null;
    });
  }

  async deleteSession(userId: string, sessionId: string): Promise<boolean> {
    if (!userId || !sessionId) return false;
    return this.sessionWrites.run(sessionId, async () => {
      const { deletedCount } = await this.sessions.deleteOne({ _id: sessionId, userId });
      if (!deletedCount) return false;
      await this.messages.deleteMany({ sessionId });
      return true;
    });
  }

  async deleteAllForUser(userId: string): Promise<void> {
    if (!userId) return;
    await this.sessions.deleteMany({ userId });
    await this.messages.deleteMany({ userId });
  }

  async appendMessages(sessionId: string, messages: NewMessage[]): Promise<MessageRecord[]> {
    const records: MessageRecord[] = [];
    for (const message of messages) records.push(await this.appendMessage(sessionId, message));
    return records;
  }

  async appendMessage(sessionId: string, message: NewMessage): Promise<MessageRecord> {
    if (!sessionId) throw new SessionNotFoundError();
    const now = new Date();
    const preview = messagePreview(message.content);
    return this.sessionWrites.run(sessionId, async () => {
      for (let attempt = 1; ; attempt++) {
        const session = await this.sessions
          .findOneAndUpdate(
            { _id: sessionId },
            {
              $inc: { messageCount: 1 },
              // A reply that has no text yet keeps the previous preview until updateMessage fills it.
              $set: preview ? { updatedAt: now, lastMessage: preview } : { updatedAt: now },
            },
            { new: true },
          )
          .lean<MongoChatSession>();
        if (!session) throw new SessionNotFoundError();
        const { id, ...fields } = newMessageRecord(sessionId, session.messageCount, message, now);
        const doc: MongoChatMessage = { _id: id, userId: session.userId, ...fields };
        try {
          await this.messages.create(doc);
          return toMessageRecord(doc);
        } catch (error) {
          if (!isDuplicateKey(error) || attempt >= MAX_SEQ_ATTEMPTS) throw error;
          await this.resyncCounter(sessionId);
        }
      }
    });
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
    const changes = definedFields(patch);
    const filter = { _id: messageId, sessionId, ...(onlyPending ? { status: 'pending' } : {}) };
    return this.sessionWrites.run(sessionId, async () => {
      const updated = await this.messages
        .findOneAndUpdate(filter, { $set: changes }, { new: true })
        .lean<MongoChatMessage>();
      if (!updated) return null;
      const preview = changes.content === undefined ? '' : messagePreview(changes.content);
      const session = await this.sessions
        .findById(sessionId, { messageCount: 1 })
        .lean<Pick<MongoChatSession, 'messageCount'>>();
      // Only the newest message (seq = messageCount) is the session's preview.
      const newest = preview && session?.messageCount === updated.seq;
      await this.sessions.updateOne(
        { _id: sessionId },
        {
          $set: newest
            ? { updatedAt: new Date(), lastMessage: preview }
            : { updatedAt: new Date() },
        },
      );
      return toMessageRecord(updated);
    });
  }

  async listMessages(sessionId: string, page: PageRequest): Promise<Page<MessageRecord>> {
    if (!sessionId) return { items: [], total: 0 };
    const [docs, total] = await Promise.all([
      this.messages
        .find({ sessionId })
        .sort({ seq: 1 })
        .skip((page.page - 1) * page.perPage)
        .limit(page.perPage)
        .lean<MongoChatMessage[]>(),
      this.messages.countDocuments({ sessionId }),
    ]);
    return { items: docs.map(toMessageRecord), total };
  }

  async recentMessages(sessionId: string, limit: number): Promise<MessageRecord[]> {
    if (!sessionId || limit <= 0) return [];
    const docs = await this.messages
      .find({ sessionId })
      .sort({ seq: -1 })
      .limit(limit)
      .lean<MongoChatMessage[]>();
    return docs.reverse().map(toMessageRecord);
  }

  async pendingReplies(startedBefore: Date, limit: number): Promise<PendingReply[]> {
    const docs = await this.messages
      .find({ status: 'pending', createdAt: { $lt: startedBefore } })
      .sort({ createdAt: 1 })
      .limit(limit)
      .lean<MongoChatMessage[]>();
    return docs.map((doc) => ({
      messageId: doc._id,
      sessionId: doc.sessionId,
      userId: doc.userId,
      content: doc.content,
      model: doc.model ?? null,
      createdAt: doc.createdAt,
    }));
  }

  /** Raises the counter to the highest stored seq after another writer's increment was lost. */
  private async resyncCounter(sessionId: string): Promise<void> {
    const newest = await this.messages
      .findOne({ sessionId }, { seq: 1 })
      .sort({ seq: -1 })
      .lean<Pick<MongoChatMessage, 'seq'>>();
    if (newest) {
      await this.sessions.updateOne({ _id: sessionId }, { $max: { messageCount: newest.seq } });
    }
  }
}

function isDuplicateKey(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === DUPLICATE_KEY;
}

function toSessionRecord(doc: MongoChatSession): SessionRecord {
  return {
    id: doc._id,
    userId: doc.userId,
    title: doc.title ?? null,
    messageCount: doc.messageCount,
    lastMessage: doc.lastMessage ?? null,
    createdAt: doc.createdAt,
    updatedAt: doc.updatedAt,
  };
}

function toMessageRecord(doc: MongoChatMessage): MessageRecord {
  return {
    id: doc._id,
    sessionId: doc.sessionId,
    seq: doc.seq,
    role: doc.role,
    content: doc.content ?? '',
    status: doc.status,
    model: doc.model ?? null,
    promptTokens: doc.promptTokens ?? null,
    completionTokens: doc.completionTokens ?? null,
    error: doc.error ?? null,
    createdAt: doc.createdAt,
  };
}
