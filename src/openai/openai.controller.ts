import { randomUUID } from 'node:crypto';
import {
  applyDecorators,
  Body,
  Controller,
  Get,
  Headers,
  HttpCode,
  Optional,
  Post,
  Res,
  UseGuards,
} from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiExtraModels,
  ApiHeader,
  ApiOkResponse,
  ApiOperation,
  ApiResponse,
  ApiTags,
  getSchemaPath,
} from '@nestjs/swagger';
import type { Response } from 'express';
import { InvalidInputError, JsonBodyOnly, mapOpenAiError } from '@app/common';
import { AppConfig } from '@app/config';
import { RequireApiKeyScope } from '../api-keys/api-key-scopes';
import type { AuthUser } from '../auth/auth-user';
import { CurrentUser } from '../auth/decorators/current-user.decorator';
import { JwtAuthGuard } from '../auth/guards/jwt-auth.guard';
import { SseWriter } from '../chat/sse-writer';
import { MetricsService } from '../metrics/metrics.service';
import { ProvidersService } from '../providers/providers.service';
import { ChatCompletionsService, type CompletionRun } from './chat-completions.service';
import { toCompletionInput } from './completion-input';
import {
  finishChunk,
  toChatCompletion,
  toChunk,
  toOpenAiToolCall,
  toUsageChunk,
  type CompletionIdentity,
} from './completion-response';
import { ChatCompletionRequestDto } from './dto/chat-completion-request.dto';
import {
  ChatCompletionDto,
  OpenAiErrorResponseDto,
  OpenAiModelListDto,
} from './dto/openai-response.dto';

/** The response header naming the history session of a stored exchange. */
const SESSION_HEADER = 'X-Session-Id';

/** A `/v1` error response in OpenAI's envelope, with an example of its own status. */
function ApiOpenAiError(status: number, description: string, message: string, code: string | null) {
  const type =
    status === 401
      ? 'invalid_request_error'
      : status === 403
        ? 'permission_error'
        : status === 429
          ? 'rate_limit_error'
          : status >= 500
            ? 'server_error'
            : 'invalid_request_error';
  const param = status === 400 ? 'messages' : null;
  return ApiResponse({
    status,
    description,
    type: OpenAiErrorResponseDto,
    example: {
      error: { message, type, param, code },
      detail: message,
      ...(status === 400 ? { errors: [{ field: 'messages', message }] } : {}),
    },
  });
}

/** Authentication of `/v1`: an access token or an API key with the route's scope. */
function V1Auth() {
  return applyDecorators(
    ApiBearerAuth('bearer'),
    UseGuards(JwtAuthGuard),
    ApiOpenAiError(
      401,
      'Missing, invalid, revoked or expired key or token',
      'Invalid API key',
      'invalid_api_key',
    ),
    ApiOpenAiError(
      403,
      'The API key lacks the scope, or the account is disabled',
      'This API key does not have the "chat" scope',
      'insufficient_permissions',
    ),
    ApiOpenAiError(
      429,
      'Rate limit or quota; see Retry-After',
      'Too many requests; retry in 12 seconds',
      'rate_limit_exceeded',
    ),
  );
}

@ApiTags('v1 (OpenAI-compatible)')
@ApiExtraModels(OpenAiErrorResponseDto)
@Controller('v1')
export class OpenAiController {
  /** `created` of every listed model: when this instance started. */
  private readonly startedAt = Math.floor(Date.now() / 1000);

  constructor(
    private readonly providers: ProvidersService,
    private readonly completions: ChatCompletionsService,
    private readonly config: AppConfig,
    @Optional() private readonly metrics?: MetricsService,
  ) {}

  @Get('models')
  @V1Auth()
  @RequireApiKeyScope('models')
  @ApiOperation({
    summary: 'Models, in OpenAI’s list shape',
    description:
      'The same models as GET /api/models (`id` is `provider/model`). API keys need `models`.',
  })
  @ApiOkResponse({ type: OpenAiModelListDto })
  listModels(): OpenAiModelListDto {
    return {
      object: 'list',
      data: this.providers.listModels().map((model) => ({
        id: model.id,
        object: 'model',
        created: this.startedAt,
        owned_by: model.provider,
      })),
    };
  }

  @Post('chat/completions')
  @HttpCode(200)
  @JsonBodyOnly()
  @V1Auth()
  @RequireApiKeyScope('chat')
  @ApiOperation({
    summary: 'Chat completion (OpenAI wire format)',
    description:
      'Point an OpenAI client (`base_url` = `http://HOST/v1`, `api_key` = a personal API key with ' +
      'the `chat` scope, or an access token) here. `stream: true` answers `text/event-stream`: ' +
      '`data: {chat.completion.chunk}` lines, then `data: [DONE]`; with `stream_options.include_usage` ' +
      'a last chunk has `usage` and no choices. A failure after the stream started is a `data: ' +
      '{"error": …}` line. Only `n: 1`.\n\n' +
      '**Tool calls**: with `tools` (and `tool_choice`) the reply may be `message.tool_calls` with ' +
      '`finish_reason: "tool_calls"` (streamed: one `delta.tool_calls` chunk per whole call); send ' +
      'the results as `tool` messages (`tool_call_id`) after the assistant message. Translated to ' +
      'each provider’s function calling; the `local` provider answers in text.\n\n' +
      '**History**: stateless by default (nothing stored). With the request header `X-Session-Id: <id>` ' +
      '(continue that session) or `"store": true` (a new session), the exchange is stored like a ' +
      'POST /api/chat turn: the last message (a user message) is the new message, system messages ' +
      'the system prompt, and the stored session — not the other messages — is the context. ' +
      'Tool calls are stored with the reply; trailing `tool` messages (with `X-Session-Id`) are ' +
      'their results and continue it. The response header `X-Session-Id` names the session; ' +
      '`stop` and a `tool_choice` other than `auto` are refused (400). ' +
      'Same 404 and 409 as /api/chat.\n\n' +
      'Quotas, fallbacks, key rotation, the circuit breaker, metrics and abort-on-disconnect are ' +
      'those of /api/chat. Errors: `{"error": {message, type, param, code}, "detail"}`; an unknown ' +
      'model is 404 `model_not_found`.',
  })
  @ApiHeader({
    name: SESSION_HEADER,
    required: false,
    description: 'Store the exchange in this history session (yours; else 404).',
    schema: { type: 'string', minLength: 1, maxLength: 100 },
  })
  @ApiOkResponse({
    description: 'The completion (JSON), or the chunk stream when `stream: true`',
    headers: {
      [SESSION_HEADER]: {
        description: 'The session of a stored exchange',
        schema: { type: 'string' },
      },
    },
    content: {
      'application/json': { schema: { $ref: getSchemaPath(ChatCompletionDto) } },
      'text/event-stream': {
        schema: { type: 'string' },
        example:
          'data: {"id":"chatcmpl-…","object":"chat.completion.chunk","created":1764576000,"model":"local/echo","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}\n\n' +
          'data: {"id":"chatcmpl-…","object":"chat.completion.chunk","created":1764576000,"model":"local/echo","choices":[{"index":0,"delta":{"content":"Hello"},"finish_reason":null}]}\n\n' +
          'data: [DONE]\n\n',
      },
    },
  })
  @ApiExtraModels(ChatCompletionDto)
  @ApiOpenAiError(
    400,
    'Invalid body (unknown field, n ≠ 1, bad message, stop, tools, tool messages…) or context too long',
    'messages must contain at least one message',
    null,
  )
  @ApiOpenAiError(
    404,
    'Unknown model, or an unknown / another user’s X-Session-Id',
    'Unknown model "nope/x"',
    'model_not_found',
  )
  @ApiOpenAiError(
    409,
    'The session is generating another reply',
    'A reply is already being generated for this session',
    'conflict',
  )
  @ApiOpenAiError(413, 'Body over BODY_LIMIT', 'Request body too large', 'request_too_large')
  @ApiOpenAiError(
    502,
    'The provider failed after retries and fallbacks',
    'The AI provider returned an error; please try again',
    'upstream_error',
  )
  @ApiOpenAiError(
    503,
    'Every provider/key is unavailable (Retry-After)',
    'The AI provider is temporarily unavailable; please try again later',
    'upstream_unavailable',
  )
  @ApiOpenAiError(
    504,
    'The provider did not answer in time',
    'The AI provider did not answer in time',
    'upstream_timeout',
  )
  async complete(
    @CurrentUser() user: AuthUser,
    @Body() body: ChatCompletionRequestDto,
    @Headers('x-session-id') sessionHeader: string | undefined,
    @Res() res: Response,
  ): Promise<void> {
    const input = toCompletionInput(body);
    const run = await this.completions.begin(
      user.id,
      input,
      parseSessionHeader(sessionHeader),
      user.apiKey,
    );
    if (run.sessionId) res.setHeader(SESSION_HEADER, run.sessionId);
    const identity: CompletionIdentity = {
      id: `chatcmpl-${randomUUID().replace(/-/g, '')}`,
      created: Math.floor(Date.now() / 1000),
    };
    const onClose = () => {
      if (!res.writableFinished) run.abort();
    };
    res.on('close', onClose);
    // The client may already have gone while the request was checked.
    if (!res.socket || res.socket.destroyed) run.abort();
    try {
      if (input.stream) {
        await this.stream(res, run, identity, input.includeUsage);
        return;
      }
      const result = await run.run(() => undefined);
      if (result.failure) throw result.failure;
      res.status(200).json(toChatCompletion(identity, result));
    } finally {
      res.off('close', onClose);
    }
  }

  private async stream(
    res: Response,
    run: CompletionRun,
    identity: CompletionIdentity,
    includeUsage: boolean,
  ): Promise<void> {
    const sse = new SseWriter(res, this.config.chat.heartbeatMs);
    sse.open();
    this.metrics?.streamOpened('sse');
    try {
      const send = (chunk: unknown) => sse.data(JSON.stringify(chunk));
      send(toChunk(identity, run.model, { role: 'assistant', content: '' }, null, includeUsage));
      const result = await run.run(
        (text) => send(toChunk(identity, run.model, { content: text }, null, includeUsage)),
        // Each call whole in one chunk: the SDKs accumulate fragments by index either way.
        (call, index) =>
          send(
            toChunk(
              identity,
              run.model,
              { tool_calls: [{ index, ...toOpenAiToolCall(call) }] },
              null,
              includeUsage,
            ),
          ),
      );
      if (result.failure) {
        // OpenAI's SDKs raise an APIError for an `error` object inside the stream.
        send(mapOpenAiError(result.failure).body);
        return;
      }
      send(finishChunk(identity, result, includeUsage));
      if (includeUsage) send(toUsageChunk(identity, result));
      sse.data('[DONE]');
    } finally {
      sse.end();
      this.metrics?.streamClosed('sse');
    }
  }
}

/** `X-Session-Id`: absent, or 1 to 100 characters (its format is HistoryService's 404 rule). */
function parseSessionHeader(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  if (header.length < 1 || header.length > 100) {
    throw new InvalidInputError('X-Session-Id must be 1 to 100 characters', [
      { field: SESSION_HEADER, message: 'must be 1 to 100 characters' },
    ]);
  }
  return header;
}
