import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';

/** Swagger shapes of the `/v1` answers, as the OpenAI SDKs parse them. */

export class OpenAiModelDto {
  @ApiProperty({ example: 'local/echo' })
  id: string;

  @ApiProperty({ enum: ['model'], example: 'model' })
  object: 'model';

  @ApiProperty({ type: 'integer', example: 1764576000, description: 'Unix seconds' })
  created: number;

  @ApiProperty({ example: 'local', description: 'The provider' })
  owned_by: string;
}

export class OpenAiModelListDto {
  @ApiProperty({ enum: ['list'], example: 'list' })
  object: 'list';

  @ApiProperty({ type: [OpenAiModelDto] })
  data: OpenAiModelDto[];
}

export class PromptTokensDetailsDto {
  @ApiProperty({
    type: 'integer',
    example: 8,
    description: 'Prompt tokens read from the provider prompt cache.',
  })
  cached_tokens: number;
}

export class CompletionUsageDto {
  @ApiProperty({ type: 'integer', example: 12 })
  prompt_tokens: number;

  @ApiProperty({ type: 'integer', example: 5 })
  completion_tokens: number;

  @ApiProperty({ type: 'integer', example: 17 })
  total_tokens: number;

  @ApiPropertyOptional({
    type: PromptTokensDetailsDto,
    description: 'Present when the provider reported prompt cache hits.',
  })
  prompt_tokens_details?: PromptTokensDetailsDto;
}

export class ToolCallFunctionDto {
  @ApiProperty({ example: 'get_weather' })
  name: string;

  @ApiProperty({
    example: '{"city":"Paris"}',
    description: 'The arguments as JSON text, as the model wrote them (parse and check them).',
  })
  arguments: string;
}

export class ToolCallDto {
  @ApiProperty({ example: 'call_abc123', description: 'The `tool_call_id` of its result.' })
  id: string;

  @ApiProperty({ enum: ['function'], example: 'function', description: 'Always a function.' })
  type: 'function';

  @ApiProperty({ type: ToolCallFunctionDto })
  function: ToolCallFunctionDto;
}

export class AssistantMessageDto {
  @ApiProperty({ enum: ['assistant'], example: 'assistant' })
  role: 'assistant';

  @ApiProperty({
    type: String,
    nullable: true,
    example: 'Hello!',
    description: 'The reply text; null when the reply is only tool calls.',
  })
  content: string | null;

  @ApiProperty({ type: String, nullable: true, example: null })
  refusal: null;

  @ApiPropertyOptional({
    type: [ToolCallDto],
    description:
      'The functions the model calls (finish_reason `tool_calls`); only when it calls any.',
  })
  tool_calls?: ToolCallDto[];
}

export class CompletionChoiceDto {
  @ApiProperty({ type: 'integer', example: 0 })
  index: number;

  @ApiProperty({ type: AssistantMessageDto })
  message: AssistantMessageDto;

  @ApiProperty({ enum: ['stop', 'length', 'content_filter', 'tool_calls'], example: 'stop' })
  finish_reason: string;

  @ApiProperty({ type: Object, nullable: true, example: null })
  logprobs: null;
}

export class ChatCompletionDto {
  @ApiProperty({ example: 'chatcmpl-9c1e2f6a0b7d4e3f8a5b6c7d8e9f0a1b' })
  id: string;

  @ApiProperty({ enum: ['chat.completion'], example: 'chat.completion' })
  object: 'chat.completion';

  @ApiProperty({ type: 'integer', example: 1764576000 })
  created: number;

  @ApiProperty({ example: 'local/echo', description: 'The model that answered' })
  model: string;

  @ApiProperty({ type: [CompletionChoiceDto] })
  choices: CompletionChoiceDto[];

  @ApiProperty({ type: CompletionUsageDto })
  usage: CompletionUsageDto;

  @ApiProperty({ type: String, nullable: true, example: null })
  system_fingerprint: null;
}

class OpenAiErrorDto {
  @ApiProperty({ example: 'Invalid API key' })
  message: string;

  @ApiProperty({ example: 'invalid_request_error' })
  type: string;

  @ApiProperty({ type: String, nullable: true, example: null })
  param: string | null;

  @ApiProperty({ type: String, nullable: true, example: 'invalid_api_key' })
  code: string | null;
}

class OpenAiFieldErrorDto {
  @ApiProperty({ example: 'messages' })
  field: string;

  @ApiProperty({ example: 'messages must contain at least one message' })
  message: string;
}

/** The `/v1` error body: OpenAI's envelope and the project's `detail`. */
export class OpenAiErrorResponseDto {
  @ApiProperty({ type: OpenAiErrorDto })
  error: OpenAiErrorDto;

  @ApiProperty({ example: 'Invalid API key' })
  detail: string;

  @ApiPropertyOptional({
    type: [OpenAiFieldErrorDto],
    description: 'Only on validation errors (400)',
  })
  errors?: OpenAiFieldErrorDto[];
}
