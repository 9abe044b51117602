import { Injectable } from '@nestjs/common';
import {
  HistoryStore,
  MessagePatch,
  PendingReply,
  MessageRecord,
  SessionRecord,
} from './history-store.interface';
import { SessionNotFoundError } from './history.errors';
import {
  mapMessage,
  mapSessionSummary,
  SessionDetailDto,
  SessionExportDto,
  SessionListDto,
  SessionSummaryDto,
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
  constructor(private readonly store: HistoryStore) {}

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

  async getSession(userId: string, sessionId: string, page: PageInput): Promise<SessionDetailDto> {
    const session = await this.requireSession(userId, sessionId);
    const messages = await this.store.listMessages(session.id, page);
    return {
      session_id: session.id,
      title: session.title,
      created_at: session.createdAt.toISOString(),
      updated_at: session.updatedAt.toISOString(),
      messages: messages.items.map(mapMessage),
      page: page.page,
      per_page: page.perPage,
      total: messages.total,
    };
  }

  createSession(userId: string, title: string | null): Promise<SessionRecord> {
    return this.store.createSession(userId, title);
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

  async deleteSession(userId: string, sessionId: string): Promise<void> {
    await this.owned(sessionId, (id) => this.store.deleteSession(userId, id));
  }

  /** Erases every session of a user with its messages (account deletion). */
  deleteAllForUser(userId: string): Promise<void> {
    return this.store.deleteAllForUser(userId);
  }

  /** The newest `limit` messages of a session, oldest first (a chat turn's context). */
  recentMessages(sessionId: string, limit: number): Promise<MessageRecord[]> {
    return this.store.recentMessages(sessionId, limit);
  }

  /**
   * Stores the user's message and an empty `pending` reply of `model` in one step, and returns
   * the reply, which finishReply completes once the generation ends.
   */
  async startExchange(sessionId: string, message: string, model: string): Promise<MessageRecord> {
    const [, reply] = await this.store.appendMessages(sessionId, [
      { role: 'user', content: message, status: 'complete' },
      { role: 'assistant', content: '', status: 'pending', model },
    ]);
    return reply;
  }

  /** Saves the text so far of a reply that is still being generated (it stays `pending`). */
  async checkpointReply(sessionId: string, messageId: string, content: string): Promise<void> {
    await this.store.updateMessage(sessionId, messageId, { content });
  }

  /** Replies still `pending` that were started before `startedBefore` (crash recovery). */
  pendingReplies(startedBefore: Date, limit: number): Promise<PendingReply[]> {
    return this.store.pendingReplies(startedBefore, limit);
  }

  /** Ends a reply that is still `pending`; false when it had already ended. */
  finishPendingReply(sessionId: string, messageId: string, reply: MessagePatch): Promise<boolean> {
    return this.store.finishPendingReply(sessionId, messageId, reply);
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
    if (format === 'markdown') {
      return {
        contentType: 'text/markdown; charset=utf-8',
        filename: `chat-${session.id}.md`,
        body: renderSessionMarkdown(session, messages),
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
        messages: messages.map(mapMessage),
        exported_at: new Date().toISOString(),
      },
    };
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
