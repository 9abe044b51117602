import { Injectable, Logger, Optional } from '@nestjs/common';
import { FilesService } from '../files/files.service';
import { MetricsService } from '../metrics/metrics.service';
import { PresetsService } from '../presets/presets.service';
import { ProvidersService } from '../providers/providers.service';
import {
  HistoryStore,
  MessageAttachment,
  MessageFeedback,
  MessagePatch,
  PendingReply,
  ReplyCheckpoint,
  MessageRecord,
  SessionRecord,
  SessionSettings,
  HistoryUsage,
  StoredToolCall,
} from './history-store.interface';
import { ConflictError, InvalidInputError } from '@app/common';
import { MessageNotFoundError, SessionNotFoundError } from './history.errors';
import { MessageTree } from './message-tree';
import { type DraftConversation, readConversations } from './conversation-import';
import { messagePreview } from './message-preview';
import { newHistoryId } from './session-id';
import {
  FeedbackDto,
  ImportResultDto,
  mapMessage,
  mapSettings,
  mapSessionSummary,
  SessionDetailDto,
  SessionExportDto,
  SessionListDto,
  SessionSummaryDto,
  SessionView,
} from './dto/history-response.dto';
import type { ExportFormat } from './dto/history-query.dto';
import { renderSessionMarkdown } from './session-markdown';
import { parseSessionId } from './session-id';

/** Page size used to read a whole session for export. */
const EXPORT_BATCH = 500;

export interface PageInput {
  page: number;
  perPage: number;
}

/** What `PATCH /api/history/{session_id}` changes; at least one field. */
export interface SessionUpdate {
  title?: string;
  /** Settings to change: undefined leaves one as it is, null clears it. */
  settings?: Partial<SessionSettings>;
  /** A preset of the caller whose settings replace the session's (before `settings`). */
  presetId?: string;
  /** Any message of the session: its branch becomes active. */
  activeMessageId?: string;
}

/** Where a chat turn attaches to the tree: `regenerateOf` or `parentId`, else the active leaf. */
export interface TurnTarget {
  /** An assistant message to answer again (a new sibling of it). */
  regenerateOf?: string;
  /** The parent of the new user message (null: a new first message); undefined: the active leaf. */
  parentId?: string | null;
  /** Continue the active leaf, a reply waiting on client tool calls (409 when it is not one). */
  continueToolCalls?: boolean;
}

/** The 409 detail of tool results sent when the session's reply waits on none. */
export const NO_WAITING_TOOL_CALLS_DETAIL =
  "The session's active reply is not waiting for tool results";

/** A chat turn's place in the tree and the conversation it continues. */
export interface TurnBase {
  /** Parent of the new user message; on a regeneration, of the new reply (the user message). */
  parentId: string | null;
  /** The newest messages of the path down to the turn's user message (excluded), oldest first. */
  history: MessageRecord[];
  /** On a regeneration: the user message the new reply answers again. */
  regenerated?: MessageRecord;
  /** On a tool-results continuation: the reply whose calls wait (also `history`'s last message). */
  waiting?: MessageRecord;
}

/** A finished export: the body to send and how to label it. */
export interface SessionExport {
  contentType: string;
  filename: string;
  body: SessionExportDto | string;
}

/**
 * History as the rest of the app uses it: the history API, chat turns and account deletion.
 * Every method taking a userId scopes to the caller through one rule (`owned`): a malformed id,
 * an unknown id and another user's session all end in the same SessionNotFoundError (404).
 */
@Injectable()
export class HistoryService {
  private readonly logger = new Logger(HistoryService.name);

  constructor(
    private readonly store: HistoryStore,
    private readonly providers: ProvidersService,
    private readonly presets: PresetsService,
    private readonly files: FilesService,
    @Optional() private readonly metrics?: MetricsService,
  ) {}

  async listSessions(userId: string, page: PageInput, query?: string): Promise<SessionListDto> {
    const result = await this.store.listSessions(userId, page, query?.trim() || undefined);
    return {
      items: result.items.map(mapSessionSummary),
      page: page.page,
      per_page: page.perPage,
      total: result.total,
    };
  }

  /** The caller's session, or SessionNotFoundError; the id is validated before any query. */
  requireSession(userId: string, sessionId: string): Promise<SessionRecord> {
    return this.owned(sessionId, (id) => this.store.getSession(userId, id));
  }

  /**
   * A session with a page of its messages: the active branch root to leaf (`path`), or every
   * message of every branch by creation (`full`); each placed among its siblings.
   */
  async getSession(
    userId: string,
    sessionId: string,
    page: PageInput,
    view: SessionView = 'path',
  ): Promise<SessionDetailDto> {
    const session = await this.requireSession(userId, sessionId);
    const tree = new MessageTree(await this.store.listTreeNodes(session.id));
    const leaf = activeLeaf(session, tree);
    let messages: MessageRecord[];
    let total: number;
    if (view === 'full') {
      ({ items: messages, total } = await this.store.listMessages(session.id, page));
    } else {
      const path = tree.pathTo(leaf);
      const start = (page.page - 1) * page.perPage;
      messages = await this.store.getMessages(session.id, path.slice(start, start + page.perPage));
      total = path.length;
    }
    return {
      session_id: session.id,
      title: session.title,
      created_at: session.createdAt.toISOString(),
      updated_at: session.updatedAt.toISOString(),
      active_message_id: leaf,
      settings: mapSettings(session.settings),
      tree: view,
      messages: messages.map((message) => mapMessage(message, tree.siblingsOf(message.id))),
      page: page.page,
      per_page: page.perPage,
      total,
    };
  }

  /**
   * Renames a session and/or switches its branch: the active leaf becomes the end of
   * `activeMessageId`'s branch, following the newest child down. 404 for a message of another
   * session; neither field is a 400.
   */
  async updateSession(
    userId: string,
    sessionId: string,
    update: SessionUpdate,
  ): Promise<SessionSummaryDto> {
    const settings = {
      ...(update.presetId !== undefined
        ? await this.presets.settings(userId, update.presetId)
        : {}),
      ...(Object.fromEntries(
        Object.entries(update.settings ?? {}).filter(([, value]) => value !== undefined),
      ) as Partial<SessionSettings>),
    };
    if (
      update.title === undefined &&
      update.activeMessageId === undefined &&
      !Object.keys(settings).length
    ) {
      throw new InvalidInputError('title, active_message_id, preset_id or a setting is required', [
        { field: 'title', message: 'title, active_message_id, preset_id or a setting is required' },
      ]);
    }
    // An unknown model is a 400 before anything changes; the catalog's own spelling is stored.
    if (settings.model) settings.model = this.providers.resolveModel(settings.model).id;
    let session = await this.requireSession(userId, sessionId);
    if (Object.keys(settings).length) {
      session = await this.owned(session.id, (id) =>
        this.store.updateSettings(userId, id, settings),
      );
    }
    if (update.activeMessageId !== undefined) {
      const tree = new MessageTree(await this.store.listTreeNodes(session.id));
      if (!tree.has(update.activeMessageId)) throw new MessageNotFoundError();
      const leaf = tree.leafFrom(update.activeMessageId);
      session = await this.owned(session.id, (id) => this.store.setActiveLeaf(userId, id, leaf));
    }
    if (update.title !== undefined) {
      session = await this.owned(session.id, (id) =>
        this.store.renameSession(userId, id, update.title!),
      );
    }
    return mapSessionSummary(session);
  }

  /**
   * Rates an assistant reply of the caller's session (replacing an earlier rating), or with null
   * removes the rating. 404 for a message not in the session; 400 for rating a user message.
   * Each rating given is counted per model in /metrics.
   */
  async setFeedback(
    userId: string,
    sessionId: string,
    messageId: string,
    feedback: MessageFeedback | null,
  ): Promise<FeedbackDto | null> {
    const session = await this.requireSession(userId, sessionId);
    const [message] = await this.store.getMessages(session.id, [messageId]);
    if (!message) throw new MessageNotFoundError();
    if (feedback && message.role !== 'assistant') {
      throw new InvalidInputError('Only assistant replies can be rated', [
        { field: 'message_id', message: 'must be the id of an assistant reply' },
      ]);
    }
    const updated = await this.store.setFeedback(session.id, message.id, feedback);
    if (!updated) throw new MessageNotFoundError();
    if (feedback) this.metrics?.observeFeedback(updated.model ?? 'unknown', feedback.rating);
    return updated.feedback;
  }

  /**
   * Imports conversations (see readConversations) as new sessions of the caller, each with its
   * branches and active leaf, each all or nothing; the others are imported whatever one's fate.
   */
  async importConversations(userId: string, data: unknown): Promise<ImportResultDto> {
    const result: ImportResultDto = { imported: [], errors: [] };
    for (const [index, draft] of readConversations(data).entries()) {
      if (draft instanceof InvalidInputError) {
        result.errors.push({ index, detail: draft.message });
        continue;
      }
      const { session, messages } = importedRecords(userId, draft);
      try {
        await this.store.importSession(session, messages);
        result.imported.push({
          index,
          session_id: session.id,
          title: session.title,
          message_count: messages.length,
        });
      } catch (error) {
        this.logger.error({ err: error, index }, 'Could not store an imported conversation');
        result.errors.push({ index, detail: 'The conversation could not be stored' });
      }
    }
    return result;
  }

  /**
   * Where a chat turn of the caller's session attaches and what it continues (read after the
   * session lock is taken): the active leaf, a chosen parent (an edit: 404 when not in the
   * session, 400 when not an assistant reply), or the user message of a reply to regenerate.
   * `history` is the newest `limit` messages of the path before the turn's user message.
   */
  async turnBase(
    userId: string,
    sessionId: string,
    target: TurnTarget,
    limit: number,
  ): Promise<TurnBase> {
    const session = await this.requireSession(userId, sessionId);
    const tree = new MessageTree(await this.store.listTreeNodes(session.id));
    const pathBefore = async (id: string | null) =>
      this.store.getMessages(session.id, tree.pathTo(id).slice(-limit));
    if (target.regenerateOf !== undefined) {
      const reply = await this.messageIn(session.id, tree, target.regenerateOf);
      const question = reply.parentId
        ? (await this.store.getMessages(session.id, [reply.parentId]))[0]
        : undefined;
      if (reply.role !== 'assistant' || question?.role !== 'user') {
        throw new InvalidInputError('regenerate_of must be the id of an assistant reply', [
          { field: 'regenerate_of', message: 'must be the id of an assistant reply' },
        ]);
      }
      return {
        parentId: question.id,
        history: await pathBefore(question.parentId),
        regenerated: question,
      };
    }
    if (target.parentId === null) return { parentId: null, history: [] };
    if (target.parentId !== undefined) {
      const parent = await this.messageIn(session.id, tree, target.parentId);
      if (parent.role !== 'assistant') {
        throw new InvalidInputError(
          'parent_id must be the id of an assistant reply (or null for a new first message)',
          [{ field: 'parent_id', message: 'must be the id of an assistant reply or null' }],
        );
      }
      return { parentId: parent.id, history: await pathBefore(parent.id) };
    }
    const leaf = activeLeaf(session, tree);
    const history = await pathBefore(leaf);
    if (target.continueToolCalls) {
      const waiting = history.at(-1);
      if (!waiting || !waitsOnClient(waiting)) {
        throw new ConflictError(NO_WAITING_TOOL_CALLS_DETAIL);
      }
      return { parentId: waiting.id, history, waiting };
    }
    return { parentId: leaf, history };
  }

  createSession(
    userId: string,
    title: string | null,
    settings?: SessionSettings,
  ): Promise<SessionRecord> {
    return this.store.createSession(userId, title, settings);
  }

  async renameSession(
    userId: string,
    sessionId: string,
    title: string,
  ): Promise<SessionSummaryDto> {
    const renamed = await this.owned(sessionId, (id) =>
      this.store.renameSession(userId, id, title),
    );
    return mapSessionSummary(renamed);
  }

  /** Deletes the session with its messages, and the files they attached that no other session uses. */
  async deleteSession(userId: string, sessionId: string): Promise<void> {
    let deleted = '';
    await this.owned(sessionId, async (id) => {
      deleted = id;
      return this.store.deleteSession(userId, id);
    });
    await this.files.releaseSession(userId, deleted);
  }

  /** Totals of each given user's stored history (the admin user list); absent: none stored. */
  usageByUser(userIds: string[]): Promise<Map<string, HistoryUsage>> {
    return this.store.usageByUser(userIds);
  }

  /** Erases every session of a user with its messages (account deletion). */
  deleteAllForUser(userId: string): Promise<void> {
    return this.store.deleteAllForUser(userId);
  }

  /**
   * Stores the user's message (under `parentId`: see TurnBase; undefined for the active leaf) with
   * the files it attaches, and
   * an empty `pending` reply of `model` in one step, and returns the reply, which finishReply
   * completes once the generation ends. The reply becomes the active leaf.
   */
  async startExchange(
    sessionId: string,
    message: string,
    model: string,
    parentId?: string | null,
    attachments: MessageAttachment[] = [],
  ): Promise<MessageRecord> {
    const [, reply] = await this.store.appendMessages(sessionId, [
      { role: 'user', content: message, status: 'complete', parentId, attachments },
      { role: 'assistant', content: '', status: 'pending', model },
    ]);
    return reply;
  }

  /**
   * Saves the text so far of replies that are still being generated, in one write (they stay
   * `pending`; one that has ended meanwhile is left alone).
   */
  checkpointReplies(batch: ReplyCheckpoint[]): Promise<void> {
    return this.store.checkpointReplies(batch);
  }

  /** Replies still `pending` that were started before `startedBefore` (crash recovery). */
  pendingReplies(startedBefore: Date, limit: number): Promise<PendingReply[]> {
    return this.store.pendingReplies(startedBefore, limit);
  }

  /** Ends a reply that is still `pending`; false when it had already ended. */
  finishPendingReply(sessionId: string, messageId: string, reply: MessagePatch): Promise<boolean> {
    return this.store.finishPendingReply(sessionId, messageId, reply);
  }

  /** Stores an empty `pending` reply of `model` to an earlier user message (a regeneration). */
  startRegeneration(sessionId: string, questionId: string, model: string): Promise<MessageRecord> {
    return this.store.appendMessage(sessionId, {
      parentId: questionId,
      role: 'assistant',
      content: '',
      status: 'pending',
      model,
    });
  }

  /**
   * Stores the client's results on the calls of a waiting reply (`answered`: its calls, every
   * client call now with a result) and an empty `pending` reply of `model` under it, which
   * continues the generation; the new reply becomes the active leaf.
   */
  async continueAfterToolCalls(
    sessionId: string,
    waitingId: string,
    answered: StoredToolCall[],
    model: string,
  ): Promise<MessageRecord> {
    await this.store.updateMessage(sessionId, waitingId, { toolCalls: answered });
    return this.store.appendMessage(sessionId, {
      parentId: waitingId,
      role: 'assistant',
      content: '',
      status: 'pending',
      model,
    });
  }

  /** Stores how a reply ended: its text, final status, model, token counts and any error. */
  async finishReply(sessionId: string, messageId: string, reply: MessagePatch): Promise<void> {
    await this.store.updateMessage(sessionId, messageId, reply);
  }

  async exportSession(
    userId: string,
    sessionId: string,
    format: ExportFormat,
  ): Promise<SessionExport> {
    const session = await this.requireSession(userId, sessionId);
    const messages = await this.allMessages(session.id);
    const tree = new MessageTree(messages);
    const leaf = activeLeaf(session, tree);
    if (format === 'markdown') {
      // The transcript reads as one conversation: the active branch.
      const path = new Set(tree.pathTo(leaf));
      return {
        contentType: 'text/markdown; charset=utf-8',
        filename: `chat-${session.id}.md`,
        body: renderSessionMarkdown(
          session,
          messages.filter((message) => path.has(message.id)),
        ),
      };
    }
    return {
      contentType: 'application/json; charset=utf-8',
      filename: `chat-${session.id}.json`,
      body: {
        session_id: session.id,
        title: session.title,
        created_at: session.createdAt.toISOString(),
        updated_at: session.updatedAt.toISOString(),
        message_count: messages.length,
        active_message_id: leaf,
        settings: mapSettings(session.settings),
        messages: messages.map((message) => mapMessage(message, tree.siblingsOf(message.id))),
        exported_at: new Date().toISOString(),
      },
    };
  }

  /** A message of the session by id, or MessageNotFoundError (404). */
  private async messageIn(
    sessionId: string,
    tree: MessageTree,
    messageId: string,
  ): Promise<MessageRecord> {
    const [message] = tree.has(messageId)
      ? await this.store.getMessages(sessionId, [messageId])
      : [];
    if (!message) throw new MessageNotFoundError();
    return message;
  }

  /** The 404 rule, written once: `lookup` runs only for a well-formed id, and null/false is 404. */
  private async owned<T>(
    sessionId: string,
    lookup: (id: string) => Promise<T | null | false>,
  ): Promise<T> {
    const id = parseSessionId(sessionId);
    const found = id ? await lookup(id) : null;
    if (!found) throw new SessionNotFoundError();
    return found;
  }

  private async allMessages(sessionId: string): Promise<MessageRecord[]> {
    const all: MessageRecord[] = [];
    for (let page = 1; ; page++) {
      const batch = await this.store.listMessages(sessionId, { page, perPage: EXPORT_BATCH });
      all.push(...batch.items);
      if (batch.items.length < EXPORT_BATCH || all.length >= batch.total) return all;
    }
  }
}

/** A complete assistant reply with client tool calls that have no result yet. */
function waitsOnClient(message: MessageRecord): boolean {
  return (
    message.role === 'assistant' &&
    message.status === 'complete' &&
    message.toolCalls.some((call) => call.executedBy === 'client' && !call.result)
  );
}

/** The session's recorded leaf, or (none recorded or gone) the end of the newest branch. */
function activeLeaf(session: SessionRecord, tree: MessageTree): string | null {
  return session.activeLeafId && tree.has(session.activeLeafId)
    ? session.activeLeafId
    : tree.defaultLeaf();
}

/** The records an imported conversation is stored as: new ids, seq in tree order, the same shape. */
function importedRecords(
  userId: string,
  draft: DraftConversation,
): { session: SessionRecord; messages: MessageRecord[] } {
  const sessionId = newHistoryId();
  const ids = new Map(draft.messages.map((message) => [message.key, newHistoryId()]));
  const messages: MessageRecord[] = draft.messages.map((message, index) => ({
    id: ids.get(message.key)!,
    sessionId,
    seq: index + 1,
    parentId: message.parentKey === null ? null : ids.get(message.parentKey)!,
    role: message.role,
    content: message.content,
    status: message.status,
    model: message.model,
    promptTokens: message.promptTokens,
    completionTokens: message.completionTokens,
    error: message.status === 'error' ? 'The reply failed before it was imported' : null,
    feedback: message.feedback,
    // Files are not part of an export: an imported conversation attaches none.
    attachments: [],
    toolCalls: message.toolCalls,
    createdAt: message.createdAt,
  }));
  const active = draft.activeKey === null ? undefined : ids.get(draft.activeKey);
  return {
    session: {
      id: sessionId,
      userId,
      title: draft.title,
      messageCount: messages.length,
      lastMessage: messagePreview(messages.at(-1)?.content ?? '') || null,
      activeLeafId: active ?? new MessageTree(messages).defaultLeaf(),
      settings: draft.settings,
      createdAt: draft.createdAt,
      updatedAt: draft.updatedAt,
    },
    messages,
  };
}
