import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsBoolean,
  IsObject,
  IsOptional,
  IsString,
  ValidateNested,
} from 'class-validator';
import { HasCodePointLength, IsNumberInRange, IsWellFormedText } from '@app/common';
import { MAX_REPLY_TOKENS } from '../../chat/dto/chat-request.dto';
import { MAX_COMPLETION_TOOLS } from '../completion-tools';

/** Most messages one request may carry. */
export const MAX_COMPLETION_MESSAGES = 1000;

export class StreamOptionsDto {
  @ApiPropertyOptional({
    example: true,
    description: 'Send one last chunk with `usage` and no choices before `[DONE]`.',
  })
  @IsOptional()
  @IsBoolean()
  include_usage?: boolean;
}

/**
 * `POST /v1/chat/completions` in OpenAI's wire format. Parameters this server cannot honour are
 * rejected (400) rather than silently ignored, except the sampling hints listed as "accepted".
 */
export class ChatCompletionRequestDto {
  @ApiProperty({
    example: 'local/echo',
    minLength: 1,
    maxLength: 200,
    description:
      'A model id from GET /v1/models (`provider/model`); unknown → 404 `model_not_found`.',
  })
  @IsString()
  @HasCodePointLength(1, 200)
  @IsWellFormedText()
  model: string;

  @ApiProperty({
    type: 'array',
    minItems: 1,
    maxItems: MAX_COMPLETION_MESSAGES,
    items: {
      type: 'object',
      required: ['role'],
      properties: {
        role: { type: 'string', enum: ['system', 'developer', 'user', 'assistant', 'tool'] },
        content: {
          nullable: true,
          oneOf: [
            { type: 'string' },
            {
              type: 'array',
              items: {
                type: 'object',
                required: ['type', 'text'],
                properties: { type: { type: 'string', enum: ['text'] }, text: { type: 'string' } },
              },
            },
          ],
        },
        name: { type: 'string' },
        tool_calls: {
          type: 'array',
          description: 'On an assistant message: the calls it made (its content may be null).',
          items: {
            type: 'object',
            required: ['id', 'type', 'function'],
            properties: {
              id: { type: 'string' },
              type: { type: 'string', enum: ['function'] },
              function: {
                type: 'object',
                required: ['name', 'arguments'],
                properties: { name: { type: 'string' }, arguments: { type: 'string' } },
              },
            },
          },
        },
        tool_call_id: {
          type: 'string',
          description:
            'On a tool message: the call of the assistant message before it that this answers.',
        },
      },
    },
    example: [
      { role: 'system', content: 'You are terse.' },
      { role: 'user', content: 'Say hello' },
    ],
    description:
      'The conversation. Roles `system`/`developer` (instructions), `user`, `assistant` (with ' +
      '`tool_calls`, content may be null), `tool` (`tool_call_id` answering a call of the assistant ' +
      'message before it; every call must be answered before the next other message); content a ' +
      'string or text parts. Non-text parts → 400.',
  })
  @IsArray()
  @ArrayMinSize(1, { message: 'messages must contain at least one message' })
  @ArrayMaxSize(MAX_COMPLETION_MESSAGES)
  messages: unknown[];

  @ApiPropertyOptional({
    type: 'array',
    maxItems: MAX_COMPLETION_TOOLS,
    nullable: true,
    items: {
      type: 'object',
      required: ['type', 'function'],
      properties: {
        type: { type: 'string', enum: ['function'] },
        function: {
          type: 'object',
          required: ['name'],
          properties: {
            name: { type: 'string', pattern: '^[a-zA-Z0-9_-]{1,64}$' },
            description: { type: 'string', maxLength: 1024 },
            parameters: {
              type: 'object',
              description: 'JSON Schema with "type": "object" (≤ 16 KB); none = no arguments.',
            },
            strict: { type: 'boolean', description: 'Accepted; not forwarded.' },
          },
        },
      },
    },
    example: [
      {
        type: 'function',
        function: {
          name: 'get_weather',
          description: 'Current weather of a city',
          parameters: {
            type: 'object',
            properties: { city: { type: 'string' } },
            required: ['city'],
          },
        },
      },
    ],
    description:
      'Functions the model may call (names unique). The reply then may be `message.tool_calls` ' +
      'with `finish_reason: "tool_calls"`; send the results back as `tool` messages. The `local` ' +
      'provider never calls tools. Server-side tools are not offered here.',
  })
  @IsOptional()
  @IsArray()
  tools?: unknown[] | null;

  @ApiPropertyOptional({
    oneOf: [
      { type: 'string', enum: ['none', 'auto', 'required'] },
      {
        type: 'object',
        required: ['type', 'function'],
        properties: {
          type: { type: 'string', enum: ['function'] },
          function: { type: 'object', properties: { name: { type: 'string' } } },
        },
      },
    ],
    nullable: true,
    example: 'auto',
    description:
      'Whether the model must, may or must not call a tool, or which one. Only with tools.',
  })
  @IsOptional()
  tool_choice?: unknown;

  @ApiPropertyOptional({
    nullable: true,
    example: true,
    description: 'Accepted for compatibility; the provider decides whether calls come in parallel.',
  })
  @IsOptional()
  @IsBoolean()
  parallel_tool_calls?: boolean | null;

  @ApiPropertyOptional({ example: false, description: 'Answer as server-sent events.' })
  @IsOptional()
  @IsBoolean()
  stream?: boolean;

  @ApiPropertyOptional({ type: StreamOptionsDto, nullable: true })
  @IsOptional()
  @IsObject()
  @ValidateNested()
  @Type(() => StreamOptionsDto)
  stream_options?: StreamOptionsDto | null;

  @ApiPropertyOptional({ example: 0.7, minimum: 0, maximum: 2, nullable: true })
  @IsOptional()
  @IsNumberInRange(0, 2)
  temperature?: number | null;

  @ApiPropertyOptional({
    type: 'integer',
    minimum: 1,
    maximum: MAX_REPLY_TOKENS,
    nullable: true,
    description: 'Longest reply in tokens (legacy name of `max_completion_tokens`).',
  })
  @IsOptional()
  @IsNumberInRange(1, MAX_REPLY_TOKENS, { integer: true })
  max_tokens?: number | null;

  @ApiPropertyOptional({
    type: 'integer',
    minimum: 1,
    maximum: MAX_REPLY_TOKENS,
    nullable: true,
    description: 'Longest reply in tokens.',
  })
  @IsOptional()
  @IsNumberInRange(1, MAX_REPLY_TOKENS, { integer: true })
  max_completion_tokens?: number | null;

  @ApiPropertyOptional({
    oneOf: [
      { type: 'string', minLength: 1 },
      { type: 'array', items: { type: 'string', minLength: 1 }, minItems: 1, maxItems: 4 },
    ],
    nullable: true,
    example: ['\n\n'],
    description:
      'Up to 4 sequences that end the reply (not included). Applied by this server. Not with storing.',
  })
  @IsOptional()
  stop?: unknown;

  @ApiPropertyOptional({
    type: 'integer',
    minimum: 1,
    maximum: 1,
    nullable: true,
    description: 'Only 1: one choice per request.',
  })
  @IsOptional()
  @IsNumberInRange(
    1,
    1,
    { integer: true },
    { message: 'n must be 1: this server returns one choice' },
  )
  n?: number | null;

  @ApiPropertyOptional({
    example: false,
    nullable: true,
    description:
      'Store the exchange as a new history session (the `X-Session-Id` response header names it). ' +
      'Default: nothing is stored.',
  })
  @IsOptional()
  @IsBoolean()
  store?: boolean | null;

  @ApiPropertyOptional({
    maxLength: 256,
    nullable: true,
    description: 'Accepted for compatibility; not used.',
  })
  @IsOptional()
  @IsString()
  @HasCodePointLength(0, 256)
  user?: string | null;

  @ApiPropertyOptional({
    minimum: 0,
    maximum: 1,
    nullable: true,
    description: 'Accepted for compatibility; not forwarded to the provider.',
  })
  @IsOptional()
  @IsNumberInRange(0, 1)
  top_p?: number | null;

  @ApiPropertyOptional({
    minimum: -2,
    maximum: 2,
    nullable: true,
    description: 'Accepted for compatibility; not forwarded to the provider.',
  })
  @IsOptional()
  @IsNumberInRange(-2, 2)
  frequency_penalty?: number | null;

  @ApiPropertyOptional({
    minimum: -2,
    maximum: 2,
    nullable: true,
    description: 'Accepted for compatibility; not forwarded to the provider.',
  })
  @IsOptional()
  @IsNumberInRange(-2, 2)
  presence_penalty?: number | null;
}
