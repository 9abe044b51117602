import { Inject, Injectable } from '@nestjs/common';
import {
  HISTORY_STORE,
  HistoryStore,
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
 * The user-facing history operations. Every method scopes to the caller: a malformed id, an
 * unknown id and another user's session all end in the same SessionNotFoundError (404).
 */
@Injectable()
export class HistoryService {
  constructor(@Inject(HISTORY_STORE) private readonly store: HistoryStore) {}

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
  async requireSession(userId: string, sessionId: string): Promise<SessionRecord> {
    const id = parseSessionId(sessionId);
    const session = id ? await this.store.getSession(userId, id) : null;
    if (!session) throw new SessionNotFoundError();
    return session;
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

  async renameSession(
    userId: string,
    sessionId: string,
    title: string,
  ): Promise<SessionSummaryDto> {
    const id = parseSessionId(sessionId);
    const renamed = id ? await this.store.renameSession(userId, id, title) : null;
    if (!renamed) throw new SessionNotFoundError();
    return mapSessionSummary(renamed);
  }

  async deleteSession(userId: string, sessionId: string): Promise<void> {
    const id = parseSessionId(sessionId);
    const deleted = id ? await this.store.deleteSession(userId, id) : false;
    if (!deleted) throw new SessionNotFoundError();
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

  private async allMessages(sessionId: string): Promise<MessageRecord[]> {
    const all: MessageRecord[] = [];
    for (let page = 1; ; page++) {
      const batch = await this.store.listMessages(sessionId, { page, perPage: EXPORT_BATCH });
      all.push(...batch.items);
      if (batch.items.length < EXPORT_BATCH || all.length >= batch.total) return all;
    }
  }
}
