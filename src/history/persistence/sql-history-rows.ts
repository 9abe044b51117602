import type { Repository } from 'typeorm';
import type { ColumnMetadata } from 'typeorm/metadata/ColumnMetadata';
import type { ChatMessage } from '../entities/chat-message.entity';
import type { ChatSession } from '../entities/chat-session.entity';
import type {
  FeedbackRating,
  MessageAttachment,
  MessagePatch,
  MessageRecord,
  SessionRecord,
  SessionSettings,
  StoredToolCall,
} from '../history-store.interface';

/** A row as the driver returns it: snake_case columns, driver-native values. */
export type RawRow = Record<string, unknown>;

export const SESSION_COLUMNS =
  'id, user_id, title, message_count, last_message, active_leaf_id, created_at, updated_at, ' +
  'system_prompt, model, temperature, max_tokens';
/** The column each SessionSettings field is stored in. */
export const SETTINGS_COLUMNS: Record<keyof SessionSettings, string> = {
  systemPrompt: 'system_prompt',
  model: 'model',
  temperature: 'temperature',
  maxTokens: 'max_tokens',
};
/** The columns a new message is inserted with (feedback starts out null). */
export const MESSAGE_INSERT_COLUMNS =
  'id, session_id, seq, parent_id, role, content, status, model, prompt_tokens, completion_tokens, error, created_at, attachments';
/** Every column of a message; tool calls are only ever set by an update (or an import). */
export const MESSAGE_COLUMNS = `${MESSAGE_INSERT_COLUMNS}, feedback_rating, feedback_comment, tool_calls`;
/** The column each patchable MessageRecord field is stored in. */
export const PATCH_COLUMNS: Record<keyof MessagePatch, string> = {
  content: 'content',
  status: 'status',
  model: 'model',
  promptTokens: 'prompt_tokens',
  completionTokens: 'completion_tokens',
  error: 'error',
  toolCalls: 'tool_calls',
};

/**
 * Raw rows ↔ records, with values converted by the driver exactly as TypeORM converts the entity
 * columns (SQLite keeps dates as UTC text, Postgres as timestamps), so rows stay identical to TypeORM's.
 */
export class SqlHistoryRowMapper {
  private readonly sessionCreated: ColumnMetadata;
  private readonly sessionUpdated: ColumnMetadata;
  private readonly messageCreated: ColumnMetadata;

  constructor(
    private readonly sessions: Repository<ChatSession>,
    messages: Repository<ChatMessage>,
  ) {
    this.sessionCreated = sessions.metadata.findColumnWithPropertyName('createdAt')!;
    this.sessionUpdated = sessions.metadata.findColumnWithPropertyName('updatedAt')!;
    this.messageCreated = messages.metadata.findColumnWithPropertyName('createdAt')!;
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
      activeLeafId: (row.active_leaf_id as string | null) ?? null,
      settings: {
        systemPrompt: (row.system_prompt as string | null) ?? null,
        model: (row.model as string | null) ?? null,
        temperature: nullableNumber(row.temperature),
        maxTokens: nullableNumber(row.max_tokens),
      },
      createdAt: this.driver.prepareHydratedValue(row.created_at, this.sessionCreated) as Date,
      updatedAt: this.driver.prepareHydratedValue(row.updated_at, this.sessionUpdated) as Date,
    };
  }

  message(row: RawRow): MessageRecord {
    return {
      id: row.id as string,
      sessionId: row.session_id as string,
      seq: Number(row.seq),
      parentId: (row.parent_id as string | null) ?? null,
      role: row.role as MessageRecord['role'],
      content: row.content as string,
      status: row.status as MessageRecord['status'],
      model: (row.model as string | null) ?? null,
      promptTokens: nullableNumber(row.prompt_tokens),
      completionTokens: nullableNumber(row.completion_tokens),
      error: (row.error as string | null) ?? null,
      feedback: row.feedback_rating
        ? {
            rating: row.feedback_rating as FeedbackRating,
            comment: (row.feedback_comment as string | null) ?? null,
          }
        : null,
      attachments: parseAttachments(row.attachments),
      toolCalls: parseToolCalls(row.tool_calls),
      createdAt: this.driver.prepareHydratedValue(row.created_at, this.messageCreated) as Date,
    };
  }

  private get driver() {
    return this.sessions.manager.connection.driver;
  }
}

/** The `attachments` column's value: JSON of the references, null when there are none. */
export function attachmentsColumn(attachments: readonly MessageAttachment[]): string | null {
  return attachments.length > 0 ? JSON.stringify(attachments) : null;
}

function parseAttachments(value: unknown): MessageAttachment[] {
  return parseJsonList<MessageAttachment>(value);
}

/** The `tool_calls` column's value: JSON of the calls, null when there are none. */
export function toolCallsColumn(calls: readonly StoredToolCall[]): string | null {
  return calls.length > 0 ? JSON.stringify(calls) : null;
}

function parseToolCalls(value: unknown): StoredToolCall[] {
  return parseJsonList<StoredToolCall>(value);
}

/** A message patch's values as their columns store them (tool calls as JSON text). */
export function patchColumnValue(field: keyof MessagePatch, value: unknown): unknown {
  return field === 'toolCalls' ? toolCallsColumn(value as StoredToolCall[]) : value;
}

function parseJsonList<T>(value: unknown): T[] {
  return typeof value === 'string' && value ? (JSON.parse(value) as T[]) : [];
}

function nullableNumber(value: unknown): number | null {
  return value === null || value === undefined ? null : Number(value);
}
