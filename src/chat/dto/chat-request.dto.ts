import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import {
  ArrayMaxSize,
  ArrayUnique,
  IsArray,
  IsNotEmpty,
  IsOptional,
  IsString,
  Matches,
  MaxLength,
  ValidateIf,
} from 'class-validator';
import { HasCodePointLength, IsNumberInRange, IsWellFormedText } from '@app/common';
import type { ChatInput } from '../chat-input';
import {
  MAX_TOOL_DESCRIPTION_CHARS,
  MAX_TOOL_PARAMETERS_BYTES,
} from '../../providers/tool-definition';
import {
  MAX_TOOL_RESULT_CHARS,
  MAX_TOOL_RESULTS,
  MAX_TOOLS,
  parseToolResults,
  parseTools,
} from '../tool-input';

/** Longest accepted system prompt, in characters. */
export const MAX_SYSTEM_PROMPT_CHARS = 8000;
/** Largest accepted `max_tokens`. */
export const MAX_REPLY_TOKENS = 32768;
/** Most files one chat message may attach. */
export const MAX_ATTACHMENTS_PER_MESSAGE = 10;

/**
 * One chat turn, the same on every transport (REST, SSE, Socket.IO, WebSocket). Types are strict:
 * `"0.5"` is not a number and `1` is not a string (400). Unknown fields are rejected (400).
 */
export class ChatRequestDto {
  @ApiPropertyOptional({
    example: 'Explain server-sent events in one sentence.',
    minLength: 1,
    pattern: '\\S',
    description:
      'The user message: 1 to CHAT__MAX_MESSAGE_CHARS characters (Unicode code points, default 32000), not blank. ' +
      'Required, except with `regenerate_of` (which answers the earlier message again and takes none) ' +
      'and with `tool_results` (which continue the waiting reply instead).',
  })
  @ValidateIf(
    (dto: ChatRequestDto) =>
      (dto.regenerate_of === undefined && dto.tool_results === undefined) ||
      dto.message !== undefined,
  )
  @IsString()
  @IsNotEmpty()
  @Matches(/\S/, { message: 'message must not be blank' })
  @IsWellFormedText()
  message?: string;

  @ApiPropertyOptional({
    type: String,
    nullable: true,
    maxLength: 100,
    example: '3f2b8a5e-2c1d-4b7a-9e0f-1a2b3c4d5e6f',
    description:
      "Session to continue; null or absent starts a new one. Unknown, malformed or another user's id → 404.",
  })
  @IsOptional()
  @IsString()
  @HasCodePointLength(0, 100)
  session_id?: string | null;

  @ApiPropertyOptional({
    example: 'local/echo',
    minLength: 1,
    maxLength: 200,
    description:
      'Model id `provider/model` (see GET /api/models); the configured default when absent.',
  })
  @IsOptional()
  @IsString()
  @HasCodePointLength(1, 200)
  @IsWellFormedText()
  model?: string;

  @ApiPropertyOptional({
    example: 'You are a concise assistant.',
    maxLength: MAX_SYSTEM_PROMPT_CHARS,
    description: `Sent first in the context of this turn; at most ${MAX_SYSTEM_PROMPT_CHARS} characters (code points).`,
  })
  @IsOptional()
  @IsString()
  @HasCodePointLength(0, MAX_SYSTEM_PROMPT_CHARS)
  @IsWellFormedText()
  system_prompt?: string;

  @ApiPropertyOptional({
    example: 0.7,
    minimum: 0,
    maximum: 2,
    description: 'Sampling temperature.',
  })
  @IsOptional()
  @IsNumberInRange(0, 2)
  temperature?: number;

  @ApiPropertyOptional({
    type: 'integer',
    example: 512,
    minimum: 1,
    maximum: MAX_REPLY_TOKENS,
    description:
      'Longest reply in tokens; also the room reserved for the reply when the context is trimmed (default CHAT__REPLY_TOKEN_BUDGET).',
  })
  @IsOptional()
  @IsNumberInRange(1, MAX_REPLY_TOKENS, { integer: true })
  max_tokens?: number;

  // No example: generated requests (Postman, docs) would send a made-up id and get a 404.
  @ApiPropertyOptional({
    maxLength: 100,
    description:
      'Regenerate: the id of an assistant reply in `session_id`; a new reply to the same user message ' +
      'is generated as its sibling (the old one stays) and becomes the active branch. Send no `message`; ' +
      '`model`, `temperature` etc. apply to this attempt. A message not in the session → 404.',
  })
  @IsOptional()
  @IsString()
  @HasCodePointLength(1, 100)
  regenerate_of?: string;

  @ApiPropertyOptional({
    type: String,
    nullable: true,
    maxLength: 100,
    description:
      'Edit / branch: the assistant reply (in `session_id`) the new `message` follows, instead of the ' +
      "active leaf. To edit a user message send its `parent_id`: the new message becomes the edited one's " +
      'sibling and the old branch stays. `null` makes it a new first message (editing the first message). ' +
      'A message not in the session → 404.',
  })
  @IsOptional()
  @IsString()
  @HasCodePointLength(1, 100)
  parent_id?: string | null;

  // No example: generated requests (Postman, docs) would send a made-up id and get a 404.
  @ApiPropertyOptional({
    maxLength: 100,
    description:
      'A preset of the caller (GET /api/presets): its settings apply where this request sends none, ' +
      "before the session's own; a new session keeps them. Unknown or another user's → 404.",
  })
  @IsOptional()
  @IsString()
  @HasCodePointLength(1, 100)
  preset_id?: string;

  // No example: generated requests (Postman, docs) would send a made-up id and get a 404.
  @ApiPropertyOptional({
    type: [String],
    maxItems: MAX_ATTACHMENTS_PER_MESSAGE,
    description:
      `Ids of the caller's files (POST /api/files) to attach to this message, at most ${MAX_ATTACHMENTS_PER_MESSAGE}, ` +
      'no repeats. Images and PDFs go to the model as image / document parts (a model that cannot ' +
      'read them → 400 naming the models that can; GET /api/models shows `inputs`); text files are ' +
      "inlined with their names. Unknown or another user's file → 404. Not with `regenerate_of` " +
      '(a regenerated reply sees the attachments of the message it answers).',
  })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(MAX_ATTACHMENTS_PER_MESSAGE, {
    message: `attachments must have at most ${MAX_ATTACHMENTS_PER_MESSAGE} files`,
  })
  @ArrayUnique({ message: 'attachments must not repeat a file' })
  @IsString({ each: true, message: 'attachments must be file ids (strings)' })
  @MaxLength(100, { each: true, message: 'attachments must be file ids' })
  attachments?: string[];

  @ApiPropertyOptional({
    type: 'array',
    maxItems: MAX_TOOLS,
    items: {
      type: 'object',
      required: ['name'],
      additionalProperties: false,
      properties: {
        name: { type: 'string', pattern: '^[a-zA-Z0-9_-]{1,64}$' },
        description: { type: 'string', maxLength: MAX_TOOL_DESCRIPTION_CHARS },
        parameters: {
          type: 'object',
          description: `A JSON Schema object (\`"type": "object"\`), at most ${MAX_TOOL_PARAMETERS_BYTES} bytes as JSON; default \`{"type":"object","properties":{}}\`.`,
        },
      },
    },
    example: [
      {
        name: 'get_weather',
        description: 'The current weather in a city',
        parameters: {
          type: 'object',
          properties: { city: { type: 'string' } },
          required: ['city'],
        },
      },
    ],
    description:
      `Functions the model may call (at most ${MAX_TOOLS}, names unique and not an enabled server-side ` +
      "tool's). A call reaches the client as a `tool_call` event; the reply then ends with " +
      '`finish_reason: "tool_calls"` and the client runs the calls and sends `tool_results`. ' +
      "The deployment's server-side tools (TOOLS__SERVER_TOOLS) are offered as well and run on the server.",
  })
  @IsOptional()
  @IsArray()
  tools?: unknown[];

  // No example: generated requests (Postman, docs) would answer calls nobody made (409).
  @ApiPropertyOptional({
    type: 'array',
    minItems: 1,
    maxItems: MAX_TOOL_RESULTS,
    items: {
      type: 'object',
      required: ['tool_call_id', 'content'],
      additionalProperties: false,
      properties: {
        tool_call_id: { type: 'string', minLength: 1, maxLength: 100 },
        content: { type: 'string', maxLength: MAX_TOOL_RESULT_CHARS },
        is_error: { type: 'boolean', default: false },
      },
    },
    description:
      'Continue a reply that stopped for tool calls: the results of exactly the calls it waits on ' +
      "(missing or unknown ids → 400), with `session_id` and no `message`. The session's active " +
      'reply must be waiting for them (else 409). The results are stored on its calls and a new ' +
      'reply continues the generation with them (send `tools` again if the model may call more).',
  })
  @IsOptional()
  @IsArray()
  tool_results?: unknown[];
}

/** `chat:send` (Socket.IO) and WebSocket frames add a client-chosen id echoed on every event. */
export class SocketChatRequestDto extends ChatRequestDto {
  @ApiPropertyOptional({
    example: 'tab-1-msg-7',
    description: 'Echoed on every event of this reply so a client can match them.',
  })
  @IsOptional()
  @IsString()
  @HasCodePointLength(0, 100)
  @IsWellFormedText()
  client_id?: string;
}

/** `chat:abort` (Socket.IO) and `{"type":"abort"}` WebSocket frames. */
export class AbortRequestDto {
  @ApiProperty({ example: '3f2b8a5e-2c1d-4b7a-9e0f-1a2b3c4d5e6f' })
  @IsString()
  @IsNotEmpty()
  @HasCodePointLength(0, 100)
  session_id: string;
}

/** Largest accepted resume position (`after`, `Last-Event-ID`). */
export const MAX_EVENT_SEQ = 1_000_000_000;

/** `chat:resume` (Socket.IO) and `{"type":"resume"}` WebSocket frames. */
export class ResumeRequestDto {
  @ApiProperty({ example: '9c1e8a5e-2c1d-4b7a-9e0f-1a2b3c4d5e6f' })
  @IsString()
  @IsNotEmpty()
  @HasCodePointLength(0, 100)
  message_id: string;

  @ApiPropertyOptional({
    example: 12,
    description: 'The sequence number of the last event seen; 0 or absent replays from `start`.',
  })
  @IsOptional()
  @IsNumberInRange(0, MAX_EVENT_SEQ, { integer: true })
  after?: number;
}

export function toChatInput(dto: ChatRequestDto): ChatInput {
  return {
    message: dto.message ?? '',
    sessionId: dto.session_id ?? null,
    model: dto.model ?? undefined,
    systemPrompt: dto.system_prompt ?? undefined,
    temperature: dto.temperature ?? undefined,
    maxTokens: dto.max_tokens ?? undefined,
    ...(dto.regenerate_of !== undefined ? { regenerateOf: dto.regenerate_of } : {}),
    ...(dto.preset_id !== undefined ? { presetId: dto.preset_id } : {}),
    ...(dto.attachments?.length ? { attachments: dto.attachments } : {}),
    ...(dto.tools?.length ? { tools: parseTools(dto.tools) } : {}),
    ...(dto.tool_results !== undefined ? { toolResults: parseToolResults(dto.tool_results) } : {}),
    // null (a new first message) and absent (the active leaf) mean different things.
    ...(dto.parent_id !== undefined ? { parentId: dto.parent_id } : {}),
  };
}
