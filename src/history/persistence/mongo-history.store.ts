import { Injectable, OnModuleInit } from '@nestjs/common';
import { InjectModel } from '@nestjs/mongoose';
import type { FilterQuery, Model } from 'mongoose';
import { SessionNotFoundError } from '../history.errors';
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
import { definedFields, newMessageRecord, newSessionRecord } from '../history-records';
import { KeyedMutex } from '../keyed-mutex';
import { messagePreview } from '../message-preview';
import { MongoChatMessage } from '../schemas/mongo-chat-message.schema';
import { MongoChatSession } from '../schemas/mongo-chat-session.schema';
import { HistoryStoreBase } from './history-store.base';

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
export class MongoHistoryStore extends HistoryStoreBase implements OnModuleInit {
  private readonly sessionWrites = new KeyedMutex();

  constructor(
    @InjectModel(MongoChatSession.name) private readonly sessions: Model<MongoChatSession>,
    @InjectModel(MongoChatMessage.name) private readonly messages: Model<MongoChatMessage>,
  ) {
    super();
  }

  /**
   * Waits until the schema indexes exist (the unique seq index must be in place before writes),
   * then turns sessions written before the message tree into chains.
   */
  async onModuleInit(): Promise<void> {
    await Promise.all([this.sessions.init(), this.messages.init()]);
    await this.migrateFlatSessions();
  }

  /**
   * Sessions without `activeLeafId` predate the message tree: each message's parent becomes the
   * one before it (by seq) and the newest message the active leaf. The session is marked last, so
   * an interrupted run resumes where it stopped; running it again changes nothing.
   */
  async migrateFlatSessions(): Promise<number> {
    let migrated = 0;
    const legacy = this.sessions
      .find({ activeLeafId: { $exists: false } }, { _id: 1 })
      .lean<Pick<MongoChatSession, '_id'>[]>()
      .cursor();
    for await (const { _id: sessionId } of legacy) {
      await this.sessionWrites.run(sessionId, async () => {
        const chain = await this.messages
          .find({ sessionId }, { _id: 1 })
          .sort({ seq: 1 })
          .lean<Pick<MongoChatMessage, '_id'>[]>();
        if (chain.length) {
          await this.messages.bulkWrite(
            chain.map((message, index) => ({
              updateOne: {
                filter: { _id: message._id },
                update: { $set: { parentId: index ? chain[index - 1]._id : null } },
              },
            })),
          );
        }
        await this.sessions.updateOne(
          { _id: sessionId },
          { $set: { activeLeafId: chain.at(-1)?._id ?? null } },
        );
      });
      migrated++;
    }
    return migrated;
  }

  async createSession(
    userId: string,
    title: string | null = null,
    settings?: SessionSettings,
  ): Promise<SessionRecord> {
    const doc = toSessionDoc(newSessionRecord(userId, title, new Date(), settings));
    await this.sessions.create(doc);
    return toSessionRecord(doc);
  }

  async updateSettings(
    userId: string,
    sessionId: string,
    patch: Partial<SessionSettings>,
  ): Promise<SessionRecord | null> {
    if (!userId || !sessionId) return null;
    const changes = Object.fromEntries(
      Object.entries(patch).filter(([, value]) => value !== undefined),
    );
    return this.sessionWrites.run(sessionId, async () => {
      const doc = await this.sessions
        .findOneAndUpdate({ _id: sessionId, userId }, { $set: changes }, { new: true })
        .lean<MongoChatSession>();
      return doc ? toSessionRecord(doc) : null;
    });
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

  async usageByUser(userIds: string[]): Promise<Map<string, HistoryUsage>> {
    const usage = new Map<string, HistoryUsage>();
    if (userIds.length === 0) return usage;
    const mine = { userId: { $in: userIds } };
    const totals = (
      collection: Pick<Model<MongoChatMessage>, 'aggregate'>,
      match: FilterQuery<MongoChatMessage>,
      sum: 1 | string,
    ) =>
      collection.aggregate<{ _id: string; total: number }>([
        { $match: match },
        { $group: { _id: '$userId', total: { $sum: sum } } },
      ]);
    // One sum per token field over the messages that have it: FerretDB's $sum answers 0 for a
    // group in which any value is null, where MongoDB skips the nulls.
    const [sessions, messages, prompt, completion] = await Promise.all([
      totals(this.sessions as Pick<Model<MongoChatMessage>, 'aggregate'>, mine, 1),
      totals(this.messages, mine, 1),
      totals(this.messages, { ...mine, promptTokens: { $type: 'number' } }, '$promptTokens'),
      totals(
        this.messages,
        { ...mine, completionTokens: { $type: 'number' } },
        '$completionTokens',
      ),
    ]);
    for (const row of sessions) {
      usage.set(row._id, {
        sessions: row.total,
        messages: 0,
        promptTokens: 0,
        completionTokens: 0,
      });
    }
    const fill = (rows: { _id: string; total: number }[], field: keyof HistoryUsage) => {
      for (const row of rows) {
        const entry = usage.get(row._id);
        if (entry) entry[field] = Number(row.total);
      }
    };
    fill(messages, 'messages');
    fill(prompt, 'promptTokens');
    fill(completion, 'completionTokens');
    return usage;
  }

  async appendMessages(sessionId: string, messages: NewMessage[]): Promise<MessageRecord[]> {
    if (!sessionId) throw new SessionNotFoundError();
    // One lock for the batch, so this process's other appends cannot come between its messages.
    return this.sessionWrites.run(sessionId, async () => {
      const records: MessageRecord[] = [];
      for (const message of messages) {
        const previous = records.at(-1);
        records.push(
          await this.insertNext(
            sessionId,
            previous ? { ...message, parentId: previous.id } : message,
          ),
        );
      }
      return records;
    });
  }

  async appendMessage(sessionId: string, message: NewMessage): Promise<MessageRecord> {
    if (!sessionId) throw new SessionNotFoundError();
    return this.sessionWrites.run(sessionId, () => this.insertNext(sessionId, message));
  }

  /** Appends one message with the next seq; the caller holds the session's write lock. */
  private async insertNext(sessionId: string, message: NewMessage): Promise<MessageRecord> {
    const now = new Date();
    const preview = messagePreview(message.content);
    // Undefined until the first attempt read the leaf it follows (a retry keeps that parent).
    let parentId = message.parentId;
    for (let attempt = 1; ; attempt++) {
      const record = newMessageRecord(sessionId, 0, null, message, now);
      // The session as it was before the increment: its count + 1 is this message's seq.
      const before = await this.sessions
        .findOneAndUpdate(
          { _id: sessionId },
          {
            $inc: { messageCount: 1 },
            // A reply that has no text yet keeps the previous preview until updateMessage fills it.
            $set: preview
              ? { updatedAt: now, lastMessage: preview, activeLeafId: record.id }
              : { updatedAt: now, activeLeafId: record.id },
          },
          { new: false },
        )
        .lean<MongoChatSession>();
      if (!before) throw new SessionNotFoundError();
      if (parentId === undefined) parentId = before.activeLeafId ?? null;
      const {
        id,
        feedback: _none,
        attachments,
        toolCalls: _noCalls,
        ...fields
      } = { ...record, seq: before.messageCount + 1, parentId };
      const doc: MongoChatMessage = {
        _id: id,
        userId: before.userId,
        ...fields,
        ...(attachments.length > 0 ? { attachments } : {}),
      };
      try {
        await this.messages.create(doc);
        return toMessageRecord(doc);
      } catch (error) {
        if (!isDuplicateKey(error) || attempt >= MAX_SEQ_ATTEMPTS) throw error;
        await this.resyncCounter(sessionId);
      }
    }
  }

  protected async changeMessageIf(
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

  async checkpointReplies(batch: ReplyCheckpoint[]): Promise<void> {
    if (!batch.length) return;
    // The sessions' locks, as every session write here takes (FerretDB 1.x would lose a rename).
    await this.sessionWrites.runAll(
      batch.map((checkpoint) => checkpoint.sessionId),
      async () => {
        const pending = await this.messages
          .find(
            { _id: { $in: batch.map((checkpoint) => checkpoint.messageId) }, status: 'pending' },
            { sessionId: 1, seq: 1 },
          )
          .lean<Pick<MongoChatMessage, '_id' | 'sessionId' | 'seq'>[]>();
        const seqs = new Map(pending.map((message) => [message._id, message]));
        const checkpoints = batch.filter(
          ({ messageId, sessionId }) => seqs.get(messageId)?.sessionId === sessionId,
        );
        if (!checkpoints.length) return;
        await this.messages.bulkWrite(
          checkpoints.map(({ messageId, sessionId, content }) => ({
            updateOne: {
              filter: { _id: messageId, sessionId, status: 'pending' },
              update: { $set: { content } },
            },
          })),
          { ordered: false },
        );
        const now = new Date();
        await this.sessions.bulkWrite(
          checkpoints.flatMap(({ messageId, sessionId, content }) => {
            const preview = messagePreview(content);
            const seq = seqs.get(messageId)!.seq;
            if (!preview) {
              return [
                { updateOne: { filter: { _id: sessionId }, update: { $set: { updatedAt: now } } } },
              ];
            }
            // Only the newest message (seq = messageCount) is the session's preview.
            return [
              {
                updateOne: {
                  filter: { _id: sessionId, messageCount: seq },
                  update: { $set: { updatedAt: now, lastMessage: preview } },
                },
              },
              {
                updateOne: {
                  filter: { _id: sessionId, messageCount: { $ne: seq } },
                  update: { $set: { updatedAt: now } },
                },
              },
            ];
          }),
          { ordered: false },
        );
      },
    );
  }

  async setActiveLeaf(
    userId: string,
    sessionId: string,
    leafId: string,
  ): Promise<SessionRecord | null> {
    if (!userId || !sessionId || !leafId) return null;
    return this.sessionWrites.run(sessionId, async () => {
      const leaf = await this.messages.exists({ _id: leafId, sessionId });
      if (!leaf) return null;
      // Switching branches is not activity: updatedAt (and so the list order) stays as it was.
      const doc = await this.sessions
        .findOneAndUpdate(
          { _id: sessionId, userId },
          { $set: { activeLeafId: leafId } },
          { new: true },
        )
        .lean<MongoChatSession>();
      return doc ? toSessionRecord(doc) : null;
    });
  }

  async setFeedback(
    sessionId: string,
    messageId: string,
    feedback: MessageFeedback | null,
  ): Promise<MessageRecord | null> {
    if (!sessionId || !messageId) return null;
    const doc = await this.messages
      .findOneAndUpdate(
        { _id: messageId, sessionId },
        {
          $set: {
            feedbackRating: feedback?.rating ?? null,
            feedbackComment: feedback?.comment ?? null,
          },
        },
        { new: true },
      )
      .lean<MongoChatMessage>();
    return doc ? toMessageRecord(doc) : null;
  }

  async importSession(session: SessionRecord, messages: MessageRecord[]): Promise<void> {
    // No transactions: the messages go first and the session last, so nothing is listed or
    // readable before the whole conversation is stored; a failure removes what was written.
    const docs: MongoChatMessage[] = messages.map(({ id, feedback, toolCalls, ...fields }) => ({
      _id: id,
      userId: session.userId,
      ...fields,
      ...(toolCalls.length > 0 ? { toolCalls } : {}),
      feedbackRating: feedback?.rating ?? null,
      feedbackComment: feedback?.comment ?? null,
    }));
    try {
      if (docs.length) await this.messages.insertMany(docs, { ordered: true });
      await this.sessions.create(toSessionDoc(session));
    } catch (error) {
      await this.messages.deleteMany({ sessionId: session.id });
      throw error;
    }
  }

  async listTreeNodes(sessionId: string): Promise<TreeNode[]> {
    if (!sessionId) return [];
    const docs = await this.messages
      .find({ sessionId }, { _id: 1, parentId: 1, seq: 1 })
      .sort({ seq: 1 })
      .lean<Pick<MongoChatMessage, '_id' | 'parentId' | 'seq'>[]>();
    return docs.map((doc) => ({ id: doc._id, parentId: doc.parentId ?? null, seq: doc.seq }));
  }

  async getMessages(sessionId: string, ids: string[]): Promise<MessageRecord[]> {
    if (!sessionId || !ids.length) return [];
    const docs = await this.messages
      .find({ sessionId, _id: { $in: ids } })
      .sort({ seq: 1 })
      .lean<MongoChatMessage[]>();
    return docs.map(toMessageRecord);
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

/** A session as its document: the settings as top-level fields. */
function toSessionDoc(session: SessionRecord): MongoChatSession {
  const { id, settings, ...fields } = session;
  return { _id: id, ...fields, ...settings };
}

function toSessionRecord(doc: MongoChatSession): SessionRecord {
  return {
    id: doc._id,
    userId: doc.userId,
    title: doc.title ?? null,
    messageCount: doc.messageCount,
    lastMessage: doc.lastMessage ?? null,
    activeLeafId: doc.activeLeafId ?? null,
    settings: {
      systemPrompt: doc.systemPrompt ?? null,
      model: doc.model ?? null,
      temperature: doc.temperature ?? null,
      maxTokens: doc.maxTokens ?? null,
    },
    createdAt: doc.createdAt,
    updatedAt: doc.updatedAt,
  };
}

function toMessageRecord(doc: MongoChatMessage): MessageRecord {
  return {
    id: doc._id,
    sessionId: doc.sessionId,
    seq: doc.seq,
    parentId: doc.parentId ?? null,
    role: doc.role,
    content: doc.content ?? '',
    status: doc.status,
    model: doc.model ?? null,
    promptTokens: doc.promptTokens ?? null,
    completionTokens: doc.completionTokens ?? null,
    error: doc.error ?? null,
    feedback: doc.feedbackRating
      ? { rating: doc.feedbackRating, comment: doc.feedbackComment ?? null }
      : null,
    attachments: (doc.attachments ?? []).map(({ id, name, mediaType }) => ({
      id,
      name,
      mediaType,
    })),
    toolCalls: (doc.toolCalls ?? []).map((call) => ({
      id: call.id,
      name: call.name,
      arguments: call.arguments,
      executedBy: call.executedBy,
      round: call.round,
      result: call.result ? { content: call.result.content, isError: call.result.isError } : null,
    })),
    createdAt: doc.createdAt,
  };
}
