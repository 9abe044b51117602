import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import type {
  FeedbackRating,
  MessageRecord,
  MessageRole,
  MessageStatus,
  SessionRecord,
  SessionSettings,
  StoredToolCall,
} from '../history-store.interface';
import type { SiblingInfo } from '../message-tree';

export const FEEDBACK_RATINGS: FeedbackRating[] = ['up', 'down'];
const ROLES: MessageRole[] = ['system', 'user', 'assistant'];
const STATUSES: MessageStatus[] = ['pending', 'complete', 'error', 'aborted'];
/** How a session read lists its messages: the active branch, or the whole tree. */
export const SESSION_VIEWS = ['path', 'full'] as const;
export type SessionView = (typeof SESSION_VIEWS)[number];

const SESSION_ID_EXAMPLE = '3f2b8c1e-9a4d-4e7b-8f10-2c5d6e7f8a9b';

/** One entry of the session list. */
export class SessionSummaryDto {
  @ApiProperty({ example: SESSION_ID_EXAMPLE, format: 'uuid' })
  session_id: string;

  @ApiProperty({ example: 'Trip to Lisbon', nullable: true, type: String })
  title: string | null;

  @ApiProperty({
    example: 'Day 2 could start at the Belém Tower…',
    nullable: true,
    type: String,
    description: 'Preview of the newest message: whitespace collapsed, at most 200 characters.',
  })
  last_message: string | null;

  @ApiProperty({ type: 'integer', example: 6 })
  message_count: number;

  @ApiProperty({ example: '2026-11-25T16:20:31.412Z', format: 'date-time' })
  updated_at: string;
}

/** `GET /api/history`: the user's sessions, newest activity first. */
export class SessionListDto {
  @ApiProperty({ type: [SessionSummaryDto] })
  items: SessionSummaryDto[];

  @ApiProperty({ type: 'integer', example: 1 })
  page: number;

  @ApiProperty({ type: 'integer', example: 20 })
  per_page: number;

  @ApiProperty({
    type: 'integer',
    example: 42,
    description: 'Sessions matching the request over all pages.',
  })
  total: number;
}

/** Token counts of one reply, as chat responses, chat events and history show them. */
export class UsageDto {
  @ApiProperty({ type: 'integer', example: 128 })
  prompt_tokens: number;

  @ApiProperty({ type: 'integer', example: 64 })
  completion_tokens: number;

  @ApiProperty({ type: 'integer', example: 192, description: 'prompt_tokens + completion_tokens' })
  tokens: number;

  @ApiPropertyOptional({
    type: 'integer',
    example: 96,
    description:
      'Part of prompt_tokens the provider read from its prompt cache; only on a reply just generated (`done` event, chat response) whose provider reported a cache hit.',
  })
  cache_read_tokens?: number;

  @ApiPropertyOptional({
    type: 'integer',
    example: 32,
    description:
      'Part of prompt_tokens the provider wrote to its prompt cache (Anthropic); only on a reply just generated, when reported.',
  })
  cache_write_tokens?: number;
}

/** The owner's rating of an assistant reply. */
export class FeedbackDto {
  @ApiProperty({ enum: FEEDBACK_RATINGS, example: 'up' })
  rating: FeedbackRating;

  @ApiProperty({ type: String, nullable: true, example: 'Clear and short.' })
  comment: string | null;
}

/** A file a message attaches (GET /api/files/{id} serves it while it exists). */
export class MessageAttachmentDto {
  @ApiProperty({ example: '7a1c9e2b-4d3f-4e5a-8b6c-0d1e2f3a4b5c', format: 'uuid' })
  id: string;

  @ApiProperty({ example: 'diagram.png' })
  name: string;

  @ApiProperty({ example: 'image/png' })
  media_type: string;
}

/** What a tool returned for a call. */
export class ToolResultDto {
  @ApiProperty({ example: '42' })
  content: string;

  @ApiProperty({ example: false, description: 'True when `content` is why the tool failed.' })
  is_error: boolean;
}

/** A tool call an assistant reply made, with its result once there is one. */
export class ToolCallDto {
  @ApiProperty({
    example: 'call_1',
    description: "The call's id; `tool_results` answer it by this id.",
  })
  id: string;

  @ApiProperty({ example: 'get_weather' })
  name: string;

  @ApiProperty({
    example: '{"city":"Lisbon"}',
    description: 'The arguments as the model wrote them: JSON text (not guaranteed to be valid).',
  })
  arguments: string;

  @ApiProperty({
    enum: ['server', 'client'],
    example: 'client',
    description:
      '`server`: a server-side tool of the deployment ran it within the turn; `client`: the chat ' +
      'client was asked to run it (answered with `tool_results`).',
  })
  executed_by: 'server' | 'client';

  @ApiProperty({
    type: ToolResultDto,
    nullable: true,
    description: 'The result; null while a client call still waits for its `tool_results`.',
  })
  result: ToolResultDto | null;
}

/** A stored tool call as the API shows it (events, chat responses, history). */
export function mapToolCall(call: StoredToolCall): ToolCallDto {
  return {
    id: call.id,
    name: call.name,
    arguments: call.arguments,
    executed_by: call.executedBy,
    result: call.result ? { content: call.result.content, is_error: call.result.isError } : null,
  };
}

/** One stored message. */
export class MessageDto {
  @ApiProperty({ example: '8d0c7a52-1b3e-4f6a-9c2d-0e1f2a3b4c5d', format: 'uuid' })
  id: string;

  @ApiProperty({ enum: ROLES, example: 'assistant' })
  role: MessageRole;

  @ApiProperty({
    example: '1c9e4f70-5a2b-4d3c-8e1f-7a6b5c4d3e2f',
    format: 'uuid',
    nullable: true,
    type: String,
    description:
      'The message this one follows in the message tree (a reply: the user message it answers); ' +
      'null for the first message of a branch from the top.',
  })
  parent_id: string | null;

  @ApiProperty({
    type: 'integer',
    minimum: 0,
    example: 1,
    description:
      "0-based position among its siblings (the children of its parent, oldest first): a client's " +
      '"< 2/3 >" shows sibling_index + 1 of sibling_count.',
  })
  sibling_index: number;

  @ApiProperty({
    type: 'integer',
    minimum: 1,
    example: 3,
    description: 'How many siblings it has, itself included (regenerations and edits add one).',
  })
  sibling_count: number;

  @ApiProperty({
    type: [String],
    example: [
      '7b1d2c3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e',
      '8d0c7a52-1b3e-4f6a-9c2d-0e1f2a3b4c5d',
      '9e1f2a3b-4c5d-4e6f-8a7b-0c1d2e3f4a5b',
    ],
    description:
      'Ids of all siblings, oldest first (this one included): PATCH one as `active_message_id` to switch branch.',
  })
  sibling_ids: string[];

  @ApiProperty({ example: 'Day 2 could start at the Belém Tower, then…' })
  content: string;

  @ApiProperty({
    enum: STATUSES,
    example: 'complete',
    description:
      '`pending` while generating; `error` or `aborted` keep any partial text of the reply.',
  })
  status: MessageStatus;

  @ApiProperty({ example: 'groq/llama-3.1-8b-instant', nullable: true, type: String })
  model: string | null;

  @ApiPropertyOptional({
    enum: [true],
    description:
      'Only on a `pending` reply: it is still being generated and its stream can be resumed ' +
      '(GET /api/chat/stream/{message_id}, Socket.IO `chat:resume`, WebSocket `resume`); ' +
      '`content` is its text as of the last checkpoint (at most CHAT__CHECKPOINT_MS old).',
  })
  resumable?: true;

  @ApiProperty({
    type: UsageDto,
    nullable: true,
    description: 'Token usage of an assistant reply; null when unknown (e.g. user messages).',
  })
  usage: UsageDto | null;

  @ApiProperty({
    type: FeedbackDto,
    nullable: true,
    description:
      "The owner's rating of this reply (PUT …/messages/{message_id}/feedback); null when none.",
  })
  feedback: FeedbackDto | null;

  @ApiProperty({
    type: [MessageAttachmentDto],
    description:
      'Files a user message attached (`attachments` of the chat request), in order; empty for most. ' +
      'A file deleted since stays listed here and answers 404.',
  })
  attachments: MessageAttachmentDto[];

  @ApiPropertyOptional({
    type: [ToolCallDto],
    description:
      'Only on an assistant reply that called tools: its calls in order, each with its result ' +
      '(null while the client has not sent it in `tool_results`).',
  })
  tool_calls?: ToolCallDto[];

  @ApiProperty({ example: '2026-11-25T16:20:31.412Z', format: 'date-time' })
  created_at: string;
}

/** A conversation's own settings; null fields use the app's default. */
export class SessionSettingsDto {
  @ApiProperty({ type: String, nullable: true, example: 'You are a concise travel planner.' })
  system_prompt: string | null;

  @ApiProperty({ type: String, nullable: true, example: 'local/echo' })
  model: string | null;

  @ApiProperty({ type: Number, nullable: true, example: 0.3 })
  temperature: number | null;

  @ApiProperty({ type: 'integer', nullable: true, example: 512 })
  max_tokens: number | null;
}

export function mapSettings(settings: SessionSettings): SessionSettingsDto {
  return {
    system_prompt: settings.systemPrompt,
    model: settings.model,
    temperature: settings.temperature,
    max_tokens: settings.maxTokens,
  };
}

/** `GET /api/history/{session_id}`: one session with a page of its messages, oldest first. */
export class SessionDetailDto {
  @ApiProperty({ example: SESSION_ID_EXAMPLE, format: 'uuid' })
  session_id: string;

  @ApiProperty({ example: 'Trip to Lisbon', nullable: true, type: String })
  title: string | null;

  @ApiProperty({ example: '2026-11-25T16:02:10.004Z', format: 'date-time' })
  created_at: string;

  @ApiProperty({ example: '2026-11-25T16:20:31.412Z', format: 'date-time' })
  updated_at: string;

  @ApiProperty({
    example: '8d0c7a52-1b3e-4f6a-9c2d-0e1f2a3b4c5d',
    format: 'uuid',
    nullable: true,
    type: String,
    description:
      'The leaf of the active branch: the conversation is the path from the first message to it, ' +
      'and the next chat turn continues it. Null for an empty session.',
  })
  active_message_id: string | null;

  @ApiProperty({
    type: SessionSettingsDto,
    description:
      "The conversation's own settings, used by turns that do not send their own (set by the first chat " +
      'request or PATCH).',
  })
  settings: SessionSettingsDto;

  @ApiProperty({
    enum: ['path', 'full'],
    example: 'path',
    description:
      '`path`: `messages` is the active branch, root to leaf; `full`: every message of every branch, by creation.',
  })
  tree: SessionView;

  @ApiProperty({ type: [MessageDto] })
  messages: MessageDto[];

  @ApiProperty({ type: 'integer', example: 1 })
  page: number;

  @ApiProperty({ type: 'integer', example: 20 })
  per_page: number;

  @ApiProperty({
    type: 'integer',
    example: 6,
    description:
      'Messages over all pages: on the active path (`tree=path`), or in the session (`tree=full`).',
  })
  total: number;
}

/** `GET /api/history/{session_id}/export?format=json`: the whole session. */
export class SessionExportDto {
  @ApiProperty({ example: SESSION_ID_EXAMPLE, format: 'uuid' })
  session_id: string;

  @ApiProperty({ example: 'Trip to Lisbon', nullable: true, type: String })
  title: string | null;

  @ApiProperty({ example: '2026-11-25T16:02:10.004Z', format: 'date-time' })
  created_at: string;

  @ApiProperty({ example: '2026-11-25T16:20:31.412Z', format: 'date-time' })
  updated_at: string;

  @ApiProperty({ type: 'integer', example: 6 })
  message_count: number;

  @ApiProperty({
    example: '8d0c7a52-1b3e-4f6a-9c2d-0e1f2a3b4c5d',
    format: 'uuid',
    nullable: true,
    type: String,
    description: 'The leaf of the active branch (see GET /api/history/{session_id}).',
  })
  active_message_id: string | null;

  @ApiProperty({ type: SessionSettingsDto, description: "The conversation's own settings." })
  settings: SessionSettingsDto;

  @ApiProperty({
    type: [MessageDto],
    description: 'Every message of every branch, oldest first; `parent_id` rebuilds the tree.',
  })
  messages: MessageDto[];

  @ApiProperty({ example: '2026-11-25T17:00:00.000Z', format: 'date-time' })
  exported_at: string;
}

export function mapSessionSummary(session: SessionRecord): SessionSummaryDto {
  return {
    session_id: session.id,
    title: session.title,
    last_message: session.lastMessage,
    message_count: session.messageCount,
    updated_at: session.updatedAt.toISOString(),
  };
}

/** A message as the API shows it; `siblings` places it among its parent's children. */
export function mapMessage(message: MessageRecord, siblings: SiblingInfo): MessageDto {
  const known = message.promptTokens !== null || message.completionTokens !== null;
  const prompt = message.promptTokens ?? 0;
  const completion = message.completionTokens ?? 0;
  return {
    id: message.id,
    parent_id: message.parentId,
    sibling_index: siblings.index,
    sibling_count: siblings.ids.length,
    sibling_ids: siblings.ids,
    role: message.role,
    content: message.content,
    status: message.status,
    model: message.model,
    ...(message.status === 'pending' ? { resumable: true as const } : {}),
    usage: known
      ? { prompt_tokens: prompt, completion_tokens: completion, tokens: prompt + completion }
      : null,
    feedback: message.feedback ? { ...message.feedback } : null,
    attachments: message.attachments.map((file) => ({
      id: file.id,
      name: file.name,
      media_type: file.mediaType,
    })),
    ...(message.toolCalls.length ? { tool_calls: message.toolCalls.map(mapToolCall) } : {}),
    created_at: message.createdAt.toISOString(),
  };
}

/** A conversation an import stored. */
export class ImportedSessionDto {
  @ApiProperty({
    type: 'integer',
    example: 0,
    description: 'Position of the conversation in `data` (0-based).',
  })
  index: number;

  @ApiProperty({ example: SESSION_ID_EXAMPLE, format: 'uuid' })
  session_id: string;

  @ApiProperty({ example: 'Trip to Lisbon', nullable: true, type: String })
  title: string | null;

  @ApiProperty({ type: 'integer', example: 2 })
  message_count: number;
}

/** A conversation an import left out, and why. */
export class ImportErrorDto {
  @ApiProperty({
    type: 'integer',
    example: 1,
    description: 'Position of the conversation in `data` (0-based).',
  })
  index: number;

  @ApiProperty({ example: 'message 3: role must be user or assistant' })
  detail: string;
}

/** `POST /api/history/import`: what was stored and what was not (each conversation all or nothing). */
export class ImportResultDto {
  @ApiProperty({ type: [ImportedSessionDto] })
  imported: ImportedSessionDto[];

  @ApiProperty({ type: [ImportErrorDto] })
  errors: ImportErrorDto[];
}
