import {
  Body,
  Controller,
  Get,
  Headers,
  HttpCode,
  Logger,
  Optional,
  Param,
  Post,
  Query,
  Res,
} from '@nestjs/common';
import {
  ApiAcceptedResponse,
  ApiHeader,
  ApiOkResponse,
  ApiOperation,
  ApiParam,
  ApiQuery,
  ApiTags,
} from '@nestjs/swagger';
import type { Response } from 'express';
import { AppConfig } from '@app/config';
import { ApiKeyScope } from '../api-keys/api-key-scopes';
import type { AuthUser } from '../auth/auth-user';
import { BearerAuth } from '../auth/decorators/bearer-auth.decorator';
import { CurrentUser } from '../auth/decorators/current-user.decorator';
import { ApiErrorResponse, JsonBodyOnly } from '@app/common';
import { MetricsService } from '../metrics/metrics.service';
import { parseIdempotencyKey } from './chat-input';
import { ChatService } from './chat.service';
import { ChatRequestDto, toChatInput } from './dto/chat-request.dto';
import { AbortResponseDto, ChatResponseDto, mapChatResponse } from './dto/chat-response.dto';
import { GENERATION_NOT_FOUND_DETAIL, parseResumePosition } from './generations/generation.errors';
import { SseWriter } from './sse-writer';
import { SESSION_BUSY_DETAIL } from './turn/chat-turn-preflight';

const IDEMPOTENCY_HEADER = {
  name: 'Idempotency-Key',
  required: false,
  description:
    'Optional, 1–255 printable ASCII characters, scoped to the user. A retry with the same key and body ' +
    'returns the first result (on /stream replayed as start, one delta with the whole reply, done, ' +
    'numbered like the first stream so a resume from a replayed id adds nothing twice) and ' +
    'stores nothing twice; a provider failure is replayed as the same error. While the first request ' +
    'runs → 409; the same key with a different body → 409. Kept for CHAT__IDEMPOTENCY_TTL_SECONDS.',
  // The rule parseIdempotencyKey enforces: printable ASCII, not blank.
  schema: { type: 'string', minLength: 1, maxLength: 255, pattern: '^[ -~]*[!-~][ -~]*$' },
};

const INVALID_CHAT_BODY = {
  detail: 'message must not be blank',
  errors: [{ field: 'message', message: 'message must not be blank' }],
};

/** 404 and 409 of both chat routes (JSON and SSE). */
const SessionNotFound = () =>
  ApiErrorResponse(404, "Unknown, malformed or another user's session_id", {
    detail: 'Session not found',
  });
const SessionConflict = () =>
  ApiErrorResponse(
    409,
    `\`{"detail": "${SESSION_BUSY_DETAIL}"}\`, an Idempotency-Key in use / reused with another body, ` +
      "or `tool_results` when the session's reply waits on no tool calls",
    { detail: SESSION_BUSY_DETAIL },
  );

/**
 * One event of the stream, as OpenAPI 3.0 describes `text/event-stream` bodies (`: ping` comment
 * lines are not events).
 */
const SSE_EVENT_SCHEMA = {
  type: 'object',
  required: ['id', 'event', 'data'],
  properties: {
    id: { type: 'string', example: '2', description: 'Increasing from 1 within a stream' },
    event: {
      type: 'string',
      enum: ['start', 'delta', 'tool_call', 'tool_result', 'done', 'error'],
    },
    data: { type: 'string', example: '{"text":"Hello"}', description: 'The JSON payload' },
  },
};

@ApiTags('chat')
@BearerAuth()
@ApiKeyScope('chat')
@Controller('api/chat')
export class ChatController {
  private readonly logger = new Logger(ChatController.name);

  constructor(
    private readonly chat: ChatService,
    private readonly config: AppConfig,
    @Optional() private readonly metrics?: MetricsService,
  ) {}

  @Post()
  @JsonBodyOnly()
  @HttpCode(200)
  @ApiOperation({
    summary: 'Send a message and get the whole reply',
    description:
      'Starts a session (no `session_id`) or continues one: its earlier messages are the context, trimmed ' +
      "from the oldest to the model's context window. The user message is stored before the provider is " +
      'called; the reply is stored as `complete`, or as `error` / `aborted` with any partial text. ' +
      'With `tools`, a reply may end with `finish_reason: "tool_calls"` and its `tool_calls`; send their ' +
      '`tool_results` (with `session_id`, no `message`) to continue it. ' +
      'A client that disconnects aborts the generation.',
  })
  @ApiHeader(IDEMPOTENCY_HEADER)
  @ApiOkResponse({ type: ChatResponseDto })
  @ApiErrorResponse(
    400,
    'Invalid body (missing/blank/too long message, wrong types, unknown field, unknown model), ' +
      "malformed Idempotency-Key, a message too long for the model's context window, bad `tools`, " +
      '`tool_results` that do not answer exactly the waiting calls',
    INVALID_CHAT_BODY,
  )
  @SessionNotFound()
  @SessionConflict()
  @ApiErrorResponse(413, 'Body over BODY_LIMIT')
  @ApiErrorResponse(429, 'Rate limit or quota (QUOTA__*) exceeded; see Retry-After')
  @ApiErrorResponse(502, 'The provider failed after retries and fallbacks')
  @ApiErrorResponse(503, 'Every provider/key is unavailable (Retry-After)')
  @ApiErrorResponse(504, 'The provider did not answer in time')
  async send(
    @CurrentUser() user: AuthUser,
    @Body() body: ChatRequestDto,
    @Headers('idempotency-key') idempotencyKey: string | undefined,
    @Res({ passthrough: true }) res: Response,
  ): Promise<ChatResponseDto> {
    const turn = await this.chat.begin(user.id, toChatInput(body), {
      idempotencyKey: parseIdempotencyKey(idempotencyKey),
      apiKey: user.apiKey,
    });
    const onClose = () => {
      if (!res.writableFinished) turn.leave();
    };
    res.on('close', onClose);
    // The client may already have gone while the turn was being prepared.
    if (!res.socket || res.socket.destroyed) turn.leave();
    try {
      const outcome = await turn.run();
      if (outcome.failure) throw outcome.failure;
      return mapChatResponse(outcome);
    } finally {
      res.off('close', onClose);
    }
  }

  @Post('stream')
  @JsonBodyOnly()
  @ApiOperation({
    summary: 'Send a message and stream the reply (server-sent events)',
    description:
      'Same body, idempotency and storage as POST /api/chat. Answers `text/event-stream` (works with ' +
      '`curl -N`). Events, each with an increasing `id:` and a JSON `data:` line:\n\n' +
      '- `start` `{session_id, message_id, model}` — always first\n' +
      '- `delta` `{text}` — many; their concatenation is the stored reply\n' +
      '- `tool_call` `{message_id, id, name, arguments}` — the model called a tool (`arguments` is JSON ' +
      'text); a call of a server-side tool is followed by `tool_result` `{message_id, tool_call_id, ' +
      'name, content, is_error}` and the model goes on; client calls end the reply with ' +
      '`finish_reason: "tool_calls"`: run them and send `tool_results` with the `session_id`\n' +
      '- `done` `{message_id, usage: {prompt_tokens, completion_tokens, tokens}, finish_reason, model}` — ' +
      '`finish_reason` is `aborted` when POST /api/chat/{session_id}/abort stopped it, `tool_calls` when ' +
      'client tool calls wait for their results; `model` is the ' +
      'model that actually answered (after a fallback)\n' +
      '- `error` `{detail, status, message_id}` — instead of `done` when the provider failed (502/503/504)\n\n' +
      'Comment lines `: ping` are sent every CHAT__HEARTBEAT_MS. Errors found before the stream starts ' +
      '(400, 401, 404, 409, 429) are ordinary JSON error responses. Closing the connection aborts the ' +
      'upstream call after CHAT__RESUME_WINDOW_MS (default 30000; 0 = at once) unless a client ' +
      'resumes it (GET /api/chat/stream/{message_id}); the partial reply is stored as `aborted`.\n\n' +
      '**Other transports** (same payloads; see docs/CHAT_PROTOCOLS.md):\n\n' +
      '- Socket.IO namespace `/chat` (path `/socket.io`): token in `auth.token`, an ' +
      '`Authorization: Bearer` header or query `token`; a bad token fails with `connect_error` ' +
      '`unauthorized`. Emit `chat:send` `{message, session_id?, model?, system_prompt?, temperature?, ' +
      'max_tokens?, tools?, tool_results?, client_id?}` with an ack (`{ok: true, session_id, message_id}` or `{ok: false, ' +
      'detail, status}`) — or `chat:tool_result` with the same payload and `tool_results` required; every ' +
      'socket of the user receives `chat:start`, `chat:delta`, `chat:tool_call`, `chat:tool_result`, `chat:done`, ' +
      '`chat:error` with `session_id`, `client_id` and `seq` added. `chat:abort` `{session_id}` stops a ' +
      'reply; `chat:resume` `{message_id, after?}` resumes one on that socket; a disconnect leaves the ' +
      'replies that socket started (stopped after CHAT__RESUME_WINDOW_MS unless resumed).\n' +
      '- Plain WebSocket `ws://HOST/api/chat/ws?token=<jwt>` (bad token: HTTP 401 before the upgrade): ' +
      'send `{"message", "session_id"?, ...}`, `{"type": "tool_result", "session_id", "tool_results"}`, ' +
      '`{"type": "abort", "session_id"}` or `{"type": "resume", "message_id", "after"?}`; receive ' +
      '`{"type": "start"|"delta"|"tool_call"|"tool_result"|"done"|"error", ...}` frames. Invalid frames get ' +
      '`{"type": "error", "detail", "status": 400}` and the connection stays open.',
  })
  @ApiHeader(IDEMPOTENCY_HEADER)
  @ApiOkResponse({
    description: 'The event stream',
    content: {
      'text/event-stream': {
        schema: SSE_EVENT_SCHEMA,
        example:
          'id: 1\nevent: start\ndata: {"session_id":"3f2b…","message_id":"9c1e…","model":"local/echo"}\n\n' +
          'id: 2\nevent: delta\ndata: {"text":"Hello"}\n\n' +
          ': ping\n\n' +
          'id: 3\nevent: done\ndata: {"message_id":"9c1e…","usage":{"prompt_tokens":12,"completion_tokens":1,"tokens":13},"finish_reason":"stop","model":"local/echo"}\n\n',
      },
    },
  })
  @ApiErrorResponse(
    400,
    'Invalid body (incl. `tools` / `tool_results` not answering exactly the waiting calls) or Idempotency-Key',
    INVALID_CHAT_BODY,
  )
  @SessionNotFound()
  @SessionConflict()
  @ApiErrorResponse(429, 'Rate limit or quota')
  async stream(
    @CurrentUser() user: AuthUser,
    @Body() body: ChatRequestDto,
    @Headers('idempotency-key') idempotencyKey: string | undefined,
    @Res() res: Response,
  ): Promise<void> {
    const turn = await this.chat.begin(user.id, toChatInput(body), {
      idempotencyKey: parseIdempotencyKey(idempotencyKey),
      apiKey: user.apiKey,
    });
    const sse = new SseWriter(res, this.config.chat.heartbeatMs);
    const onClose = () => {
      if (!res.writableFinished) turn.leave();
    };
    res.on('close', onClose);
    // The client may already have gone while the turn was being prepared.
    if (!res.socket || res.socket.destroyed) turn.leave();
    sse.open();
    this.metrics?.streamOpened('sse');
    try {
      await turn.run((event, seq) => sse.send(event, seq));
    } finally {
      res.off('close', onClose);
      sse.end();
      this.metrics?.streamClosed('sse');
    }
  }

  @Get('stream/:message_id')
  @ApiOperation({
    summary: 'Resume the stream of a reply (server-sent events)',
    description:
      'Attaches to a running reply, or one that finished less than CHAT__RESUME_TTL_SECONDS ago ' +
      '(default 300), on any instance: the events after `Last-Event-ID` (what EventSource sends ' +
      'when it reconnects) or `?after=N` (the `id:` of the last event seen; absent or 0 = from ' +
      '`start`), then the live rest, in order, each once, with the same `id:` lines, until `done` ' +
      'or `error`. While a resume is connected the reply keeps running; when the last client ' +
      'leaves, CHAT__RESUME_WINDOW_MS starts again. A reply finished longer ago (or unknown, or ' +
      "another user's) is a 404: its text is in GET /api/history/{session_id}.",
  })
  @ApiParam({ name: 'message_id', example: '9c1e8a5e-2c1d-4b7a-9e0f-1a2b3c4d5e6f' })
  @ApiHeader({
    name: 'Last-Event-ID',
    required: false,
    description: 'The `id:` of the last event received; takes precedence over `after`.',
    schema: { type: 'string', pattern: '^\\d{1,10}$' },
  })
  @ApiQuery({
    name: 'after',
    required: false,
    schema: { type: 'integer', minimum: 0, maximum: 1_000_000_000 },
    description: 'The `id:` of the last event received (default 0: from `start`).',
  })
  @ApiOkResponse({
    description: 'The missed events, then the live rest (same events as POST /api/chat/stream)',
    content: {
      'text/event-stream': {
        schema: SSE_EVENT_SCHEMA,
        example:
          'id: 3\nevent: delta\ndata: {"text":" world"}\n\n' +
          'id: 4\nevent: done\ndata: {"message_id":"9c1e…","usage":{"prompt_tokens":12,"completion_tokens":2,"tokens":14},"finish_reason":"stop","model":"local/echo"}\n\n',
      },
    },
  })
  @ApiErrorResponse(400, '`after` or `Last-Event-ID` is not a whole number from 0 to 1000000000')
  @ApiErrorResponse(404, "Unknown, expired or another user's message_id", {
    detail: GENERATION_NOT_FOUND_DETAIL,
  })
  async resume(
    @CurrentUser() user: AuthUser,
    @Param('message_id') messageId: string,
    @Headers('last-event-id') lastEventId: string | undefined,
    @Query('after') after: string | undefined,
    @Res() res: Response,
  ): Promise<void> {
    if (Array.isArray(after)) after = String(after.at(-1));
    const position = parseResumePosition(lastEventId, after);
    const left = new AbortController();
    const { events } = await this.chat.resume(
      user.id,
      messageId.toLowerCase(),
      position,
      left.signal,
    );
    const onClose = () => left.abort();
    res.on('close', onClose);
    if (!res.socket || res.socket.destroyed) left.abort();
    const sse = new SseWriter(res, this.config.chat.heartbeatMs);
    sse.open();
    this.metrics?.streamOpened('sse');
    try {
      for await (const event of events) sse.sendEvent(event);
    } catch (error) {
      // Headers are sent: the stream just ends; the client resumes again from its last id.
      this.logger.warn({ err: error, messageId }, 'A resumed stream stopped');
    } finally {
      res.off('close', onClose);
      sse.end();
      this.metrics?.streamClosed('sse');
    }
  }

  @Post(':session_id/abort')
  @HttpCode(202)
  @ApiOperation({
    summary: 'Stop the running generation of a session',
    description:
      'Aborts the upstream call on whichever instance runs it; the partial reply is stored as `aborted` ' +
      'and the stream ends with `done` (`finish_reason: "aborted"`). Answers 202 also when nothing is ' +
      'running (`running: false`).',
  })
  @ApiParam({ name: 'session_id', example: '3f2b8a5e-2c1d-4b7a-9e0f-1a2b3c4d5e6f' })
  @ApiAcceptedResponse({ type: AbortResponseDto })
  @SessionNotFound()
  async abort(
    @CurrentUser() user: AuthUser,
    @Param('session_id') sessionId: string,
  ): Promise<AbortResponseDto> {
    const running = await this.chat.abort(user.id, sessionId);
    return { session_id: sessionId.toLowerCase(), running };
  }
}
