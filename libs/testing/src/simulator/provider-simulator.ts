import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import {
  anthropicCacheBreakpoints,
  anthropicErrorBody,
  anthropicErrorEvent,
  anthropicMessage,
  anthropicMessages,
  anthropicRequestError,
  anthropicStreamClosing,
  anthropicStreamOpening,
  anthropicTextDelta,
  anthropicToolUseBlock,
  type AnthropicUsage,
} from './anthropic-wire';
import { SimulatedPromptCache, type CacheUsage, type SimulatedMessage } from './prompt-cache';
import {
  argumentFragments,
  invalidToolRequest,
  offeredToolNames,
  requestedToolCalls,
  toolResultsReply,
  trailingToolResults,
  type SimulatedToolCall,
} from './tool-calls';

/**
 * A scripted behaviour for one upstream request. Fields combine: e.g. `{processingComments: 2,
 * errorEventAfterChunks: 1}` is OpenRouter's "200, PROCESSING comments, one chunk, then an
 * error event". A request takes the first queued fault whose `key` matches (or has none).
 */
export interface SimulatorFault {
  /** Only a request made with this API key takes this fault. */
  key?: string;
  /** Answer with this HTTP status and the provider's error body (429, 500, 503, 401, 400…). */
  status?: number;
  /** Retry-After header (seconds or HTTP date); Gemini also gets it as RetryInfo.retryDelay. */
  retryAfter?: number | string;
  /** Wait this long before sending response headers. */
  headersDelayMs?: number;
  /** Never send anything (the client must give up). */
  hang?: boolean;
  /** Stream: send headers, then nothing. */
  hangAfterHeaders?: boolean;
  /** Wait before the first content chunk (non-streamed: before the whole reply). */
  firstTokenDelayMs?: number;
  /** Wait between content chunks. */
  chunkDelayMs?: number;
  /** Stream: stop sending (connection left open) after this many content chunks. */
  stallAfterChunks?: number;
  /** Destroy the connection after this many content chunks (non-streamed: instead of the reply). */
  cutAfterChunks?: number;
  /** Send a chunk that is not JSON after this many content chunks (non-streamed: a broken body). */
  malformedAfterChunks?: number;
  /**
   * After a 200 and this many chunks, an error event: OpenRouter's `error` object in a `data:`
   * event, Gemini's error chunk, Anthropic's `event: error`.
   */
  errorEventAfterChunks?: number;
  /** Code inside that error event (default 502). */
  errorEventCode?: number;
  /** `: OPENROUTER PROCESSING` comments sent before the first chunk (100 ms apart). */
  processingComments?: number;
  /** Reply text for this request. */
  reply?: string;
  /** Prompt tokens reported as served from the provider's cache. */
  cachedTokens?: number;
  /** OpenRouter style: the call's charge in USD as `usage.cost` (OpenAI API only). */
  costUsd?: number;
}

export type SimulatedApi = 'openai' | 'gemini' | 'anthropic';

/** One request as the simulator saw it. */
export interface SimulatedRequest {
  index: number;
  api: SimulatedApi;
  method: string;
  path: string;
  query: Record<string, string>;
  headers: IncomingMessage['headers'];
  /** Bearer token (OpenAI), x-goog-api-key / ?key= (Gemini), x-api-key or Bearer (Anthropic). */
  apiKey?: string;
  model?: string;
  stream: boolean;
  body: unknown;
  /**
   * The conversation normalised to OpenAI roles (Gemini's `model` → `assistant`, Gemini's
   * systemInstruction and Anthropic's `system` → a leading `system` message).
   */
  messages: SimulatedMessage[];
  /** Prompt tokens read from and written to the simulated prompt cache (200 replies only). */
  cache?: CacheUsage;
  /** Status sent (0 while none). */
  status: number;
  /** The fault applied, if any. */
  fault?: SimulatorFault;
  /** The client closed the connection before the response was complete. */
  closedByClient: boolean;
  /** The response was fully written. */
  completed: boolean;
}

/**
 * App settings that send chat to a simulator at `url` through the Groq provider (an OpenAI-wire
 * client), with `groq/llama-3.1-8b-instant` as the default model and no retries.
 */
export function simulatedGroqEnv(url: string): Record<string, string> {
  return {
    AI_SERVICES__GROQ_API_KEY: 'sim-groq-key',
    AI_SERVICES__GROQ_BASE_URL: url,
    AI_SERVICES__DEFAULT_MODEL: 'groq/llama-3.1-8b-instant',
    AI_SERVICES__MAX_RETRIES: '0',
  };
}

/**
 * simulatedGroqEnv plus Gemini and Anthropic (official SDKs) at the same simulator, so one app
 * reaches `groq/…`, `gemini/…` and `anthropic/…` models; Groq's model stays the default.
 */
export function simulatedProvidersEnv(url: string): Record<string, string> {
  return {
    ...simulatedGroqEnv(url),
    AI_SERVICES__GEMINI_API_KEY: 'sim-gemini-key',
    AI_SERVICES__GEMINI_BASE_URL: url,
    AI_SERVICES__ANTHROPIC_API_KEY: 'sim-anthropic-key',
    AI_SERVICES__ANTHROPIC_BASE_URL: url,
  };
}

export interface ProviderSimulatorOptions {
  /** Fixed reply text, or a function of the last user message. Default: `Simulated reply to: <message>`. */
  reply?: string | ((lastUserMessage: string) => string);
  /** Default wait between streamed chunks. */
  chunkDelayMs?: number;
  /**
   * Each wait between chunks drawn uniformly from chunkDelayMs ± this (default 0: every stream
   * ticks in lockstep with the others started at the same moment; real providers' token timing
   * varies, so concurrent streams drift apart).
   */
  chunkJitterMs?: number;
  /**
   * OpenAI and Gemini report automatic cache hits (`prompt_tokens_details.cached_tokens`,
   * `cachedContentTokenCount`) for a prompt that repeats an earlier one's prefix. Off by default.
   */
  automaticPromptCache?: boolean;
  /** Shortest prefix (tokens) any simulated cache keeps; 1024 like the real services. */
  promptCacheMinTokens?: number;
}

const PROCESSING_INTERVAL_MS = 100;

/** Gemini has no call ids on the wire (its adapters make them up). */
const TOOL_CALL_ID_PREFIX: Readonly<Record<SimulatedApi, string>> = {
  openai: 'call_',
  gemini: '',
  anthropic: 'toolu_',
};

/**
 * A real HTTP server speaking the wire protocols of the providers, for tests and benchmarks:
 * OpenAI's `POST …/chat/completions` (JSON, and SSE with `stream: true`, usage in the last
 * chunk when `stream_options.include_usage`, `data: [DONE]`), Gemini's
 * `POST /{version}/models/{model}:generateContent` and `:streamGenerateContent?alt=sse`, and
 * Anthropic's `POST …/v1/messages` (JSON and named SSE events, a key (`x-api-key` or Bearer) and
 * `anthropic-version` required, alternating roles, `max_tokens`, at most 4 `cache_control`).
 * Replies are deterministic; usage is computed (~4 characters per token), including prompt
 * cache reads and writes. Faults are scripted per request; every request is logged with its
 * headers, key, body and whether the client closed the connection early.
 */
export class ProviderSimulator {
  readonly requests: SimulatedRequest[] = [];
  private readonly queue: SimulatorFault[] = [];
  private readonly rejectedKeys = new Map<string, number>();
  private readonly sockets = new Set<Socket>();
  private readonly cache: SimulatedPromptCache;
  /** Tool calls made so far: OpenAI's `call_<n>` and Anthropic's `toolu_<n>` ids count them. */
  private toolCallCount = 0;
  private server?: Server;
  private baseUrl?: string;

  constructor(private readonly options: ProviderSimulatorOptions = {}) {
    this.cache = new SimulatedPromptCache(options.promptCacheMinTokens ?? 1024, promptTokensOf);
  }

  /** Starts listening on 127.0.0.1 (`port` 0 = any free port); resolves to `http://127.0.0.1:<port>`. */
  async start(port = 0, host = '127.0.0.1'): Promise<string> {
    const server = createServer((req, res) => void this.handle(req, res));
    server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
    this.server = server;
    const address = server.address() as AddressInfo;
    this.baseUrl = `http://${host}:${address.port}`;
    return this.baseUrl;
  }

  /** `http://127.0.0.1:<port>`; throws before start(). */
  get url(): string {
    if (!this.baseUrl) throw new Error('ProviderSimulator is not started');
    return this.baseUrl;
  }

  /** Closes the server and every open connection (hanging requests included). */
  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Queues faults, one per future request (in order, matched by `key` when set). */
  script(...faults: SimulatorFault[]): this {
    this.queue.push(...faults);
    return this;
  }

  /** Every request made with `key` gets `status` (401 by default) from now on. */
  rejectKey(key: string, status = 401): this {
    this.rejectedKeys.set(key, status);
    return this;
  }

  /** Forgets the request log, the queued faults, the rejected keys and the prompt cache. */
  reset(): void {
    this.requests.length = 0;
    this.queue.length = 0;
    this.rejectedKeys.clear();
    this.cache.clear();
    this.toolCallCount = 0;
  }

  /**
   * The chat settings of the last request, as the provider received them: the model, the sampling
   * temperature, max_tokens and the system prompt (undefined where the request had none).
   */
  lastChatSettings(): {
    model?: string;
    temperature?: number;
    max_tokens?: number;
    system?: string;
  } {
    const last = this.requests.at(-1);
    if (!last) throw new Error('The simulator has received no request');
    const body = last.body as { temperature?: number; max_tokens?: number };
    const system = last.messages.find((m) => m.role === 'system');
    return {
      model: last.model,
      temperature: body.temperature,
      max_tokens: body.max_tokens,
      system: system ? String(system.content) : undefined,
    };
  }

  /** Faults still queued (not yet taken by a request). */
  get pendingFaults(): number {
    return this.queue.length;
  }

  /** Resolves once `predicate` holds (polled), or rejects after `timeoutMs`. */
  async waitFor(predicate: () => boolean, timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate()) {
      if (Date.now() > deadline) throw new Error('ProviderSimulator.waitFor timed out');
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://simulator');
    const rawBody = await readBody(req);
    const gemini =
      /^\/(?:[\w-]+\/)*(v1\w*)\/models\/([^/:]+):(generateContent|streamGenerateContent)$/.exec(
        url.pathname,
      );
    const openai = req.method === 'POST' && /\/chat\/completions$/.test(url.pathname);
    const anthropic = req.method === 'POST' && /\/v1\/messages$/.test(url.pathname);
    if (!gemini && !openai && !anthropic) {
      sendJson(res, 404, { error: { message: `No route ${req.method} ${url.pathname}` } });
      return;
    }
    const api: SimulatedApi = gemini ? 'gemini' : anthropic ? 'anthropic' : 'openai';
    let body: unknown;
    try {
      body = rawBody ? JSON.parse(rawBody) : {};
    } catch {
      sendError(res, api, 400, 'Request body is not JSON');
      return;
    }
    const badPart = invalidMediaPart(api, body) ?? invalidToolRequest(api, body);
    if (badPart) {
      sendError(res, api, 400, badPart);
      return;
    }
    const record: SimulatedRequest = {
      index: this.requests.length,
      api,
      method: req.method ?? 'GET',
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      headers: req.headers,
      apiKey:
        api === 'openai'
          ? bearer(req)
          : api === 'anthropic'
            ? (headerValue(req, 'x-api-key') ?? bearer(req))
            : (headerValue(req, 'x-goog-api-key') ?? url.searchParams.get('key') ?? undefined),
      model: gemini ? decodeURIComponent(gemini[2]) : stringField(body, 'model'),
      stream: gemini
        ? gemini[3] === 'streamGenerateContent'
        : (body as { stream?: unknown }).stream === true,
      body,
      messages: MESSAGES_OF[api](body),
      status: 0,
      closedByClient: false,
      completed: false,
    };
    this.requests.push(record);
    const closed = new AbortController();
    // Writes racing a client that went away must not crash the simulator.
    res.on('error', () => undefined);
    res.on('close', () => {
      if (!res.writableFinished) record.closedByClient = true;
      closed.abort();
    });
    res.on('finish', () => {
      record.completed = true;
    });

    const invalid = api === 'anthropic' ? anthropicRequestError(req.headers, body) : undefined;
    if (invalid) {
      record.status = invalid.status;
      sendError(res, api, invalid.status, invalid.message);
      return;
    }
    const rejected = record.apiKey === undefined ? undefined : this.rejectedKeys.get(record.apiKey);
    const fault: SimulatorFault =
      rejected !== undefined ? { status: rejected } : (this.takeFault(record.apiKey) ?? {});
    record.fault = Object.keys(fault).length > 0 ? fault : undefined;

    try {
      await this.respond(record, fault, res, closed.signal);
    } catch (error) {
      if (!closed.signal.aborted && !res.headersSent) {
        sendError(res, api, 500, `simulator failure: ${(error as Error).message}`);
      }
    }
  }

  private takeFault(key: string | undefined): SimulatorFault | undefined {
    const index = this.queue.findIndex((fault) => fault.key === undefined || fault.key === key);
    return index < 0 ? undefined : this.queue.splice(index, 1)[0];
  }

  private async respond(
    record: SimulatedRequest,
    fault: SimulatorFault,
    res: ServerResponse,
    closed: AbortSignal,
  ): Promise<void> {
    if (fault.hang) return; // the connection stays open until the client or stop() closes it
    await sleep(fault.headersDelayMs ?? 0, closed);
    if (fault.status !== undefined && fault.status >= 400) {
      record.status = fault.status;
      sendError(res, record.api, fault.status, errorMessage(fault.status), fault.retryAfter);
      return;
    }

    const calls = fault.reply === undefined ? this.toolCallsFor(record) : [];
    const text = calls.length > 0 ? '' : (fault.reply ?? this.replyFor(record));
    const limit = maxTokens(record);
    const limited = limitWords(text.match(/\S+\s*/g) ?? [], limit);
    const { words } = limited;
    const finish = calls.length > 0 ? 'tool_calls' : limited.finish;
    const reply = words.join('');
    const promptTokens = promptTokensOf(record.messages);
    const completionTokens = estimateTokens(
      reply + calls.map((call) => call.name + call.arguments).join(''),
    );
    record.cache = this.cacheUsage(record);
    const usage: Usage = {
      promptTokens,
      completionTokens,
      totalTokens: promptTokens + completionTokens,
      cacheReadTokens: fault.cachedTokens ?? record.cache.readTokens,
      cacheWriteTokens: record.cache.writeTokens,
      costUsd: fault.costUsd,
    };
    const model = record.model ?? 'unknown';
    record.status = 200;

    if (!record.stream) {
      await sleep(fault.firstTokenDelayMs ?? 0, closed);
      if (fault.cutAfterChunks !== undefined) {
        res.socket?.destroy();
        return;
      }
      if (fault.malformedAfterChunks !== undefined) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{"id": "broken", "choices": [');
        return;
      }
      if (fault.errorEventAfterChunks !== undefined) {
        sendJson(res, 200, {
          error: { code: fault.errorEventCode ?? 502, message: 'Provider returned error' },
        });
        return;
      }
      sendJson(res, 200, REPLY_BODY[record.api](model, reply, finish, usage, calls));
      return;
    }

    res.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
    });
    res.flushHeaders();
    if (fault.hangAfterHeaders) return;
    for (let i = 0; i < (fault.processingComments ?? 0); i++) {
      res.write(': OPENROUTER PROCESSING\n\n');
      await sleep(PROCESSING_INTERVAL_MS, closed);
    }
    await sleep(fault.firstTokenDelayMs ?? 0, closed);
    const chunkDelay = fault.chunkDelayMs ?? this.options.chunkDelayMs ?? 0;
    const includeUsage = (record.body as { stream_options?: { include_usage?: boolean } })
      .stream_options?.include_usage;
    const dialect = STREAM_DIALECTS[record.api]({
      model,
      finish,
      usage,
      includeUsage: includeUsage === true,
      toolReply: calls.length > 0,
    });
    const chunks =
      calls.length > 0
        ? dialect.toolCalls(calls)
        : words.map((word, i) => dialect.delta(word, i === words.length - 1));

    res.write(dialect.opening);
    for (let i = 0; i <= chunks.length; i++) {
      if (closed.aborted) return;
      if (fault.cutAfterChunks === i) {
        // Let the chunks already written reach the client, then cut without a clean end.
        await new Promise<void>((resolve) => res.write('', () => resolve()));
        await sleep(20, closed);
        res.socket?.destroy();
        return;
      }
      if (fault.malformedAfterChunks === i) {
        res.write(dialect.malformed);
        res.end();
        return;
      }
      if (fault.errorEventAfterChunks === i) {
        res.write(dialect.errorEvent(fault.errorEventCode ?? 502));
        res.end();
        return;
      }
      if (fault.stallAfterChunks === i) return;
      if (i === chunks.length) break;
      if (i > 0) await sleep(jitteredDelay(chunkDelay, this.options.chunkJitterMs ?? 0), closed);
      res.write(chunks[i]);
    }
    res.write(dialect.closing(chunks.length === 0));
    res.end();
  }

  /** What the request read from and wrote to the simulated prompt cache. */
  private cacheUsage(record: SimulatedRequest): CacheUsage {
    const scope = `${record.api}|${record.model ?? ''}`;
    if (record.api === 'anthropic') {
      return this.cache.explicit(scope, record.messages, anthropicCacheBreakpoints(record.body));
    }
    if (this.options.automaticPromptCache) return this.cache.automatic(scope, record.messages);
    return { readTokens: 0, writeTokens: 0 };
  }

  /**
   * The calls the last user message asks for with `[[tool:NAME {args}]]` markers among the tools
   * the request offers (none when the conversation ends with tool results), numbered.
   */
  private toolCallsFor(record: SimulatedRequest): SimulatedToolCall[] {
    if (trailingToolResults(record.api, record.body)) return [];
    const offered = offeredToolNames(record.api, record.body);
    if (offered.length === 0) return [];
    const lastUser = [...record.messages].reverse().find((m) => m.role === 'user')?.content ?? '';
    return requestedToolCalls(lastUser, offered).map((call) => {
      this.toolCallCount += 1;
      const id = TOOL_CALL_ID_PREFIX[record.api] + String(this.toolCallCount);
      return { ...call, id };
    });
  }

  private replyFor(record: SimulatedRequest): string {
    const results = trailingToolResults(record.api, record.body);
    if (results) return toolResultsReply(results);
    const lastUser = [...record.messages].reverse().find((m) => m.role === 'user')?.content ?? '';
    const reply = this.options.reply;
    if (typeof reply === 'string') return reply;
    if (typeof reply === 'function') return reply(lastUser);
    return `Simulated reply to: ${lastUser}`;
  }
}

interface Usage {
  promptTokens: number;
  completionTokens: number;
  totalTokens: number;
  /** Part of promptTokens read from the prompt cache. */
  cacheReadTokens: number;
  /** Part of promptTokens written to the prompt cache (Anthropic). */
  cacheWriteTokens: number;
  /** OpenRouter style: the call's charge in USD. */
  costUsd?: number;
}

/** ~4 characters per token, like the app's own estimate. */
function estimateTokens(text: string): number {
  return Math.ceil(text.length / 4);
}

/** Prompt tokens of a conversation: its text plus 4 tokens of framing per message. */
function promptTokensOf(messages: readonly SimulatedMessage[]): number {
  return estimateTokens(messages.map((m) => m.content).join(' ')) + 4 * messages.length;
}

function limitWords(
  words: string[],
  limit: number | undefined,
): { words: string[]; finish: 'stop' | 'length' } {
  if (limit === undefined) return { words, finish: 'stop' };
  const kept: string[] = [];
  let tokens = 0;
  for (const word of words) {
    tokens += estimateTokens(word);
    if (tokens > limit) return { words: kept, finish: 'length' };
    kept.push(word);
  }
  return { words: kept, finish: 'stop' };
}

function maxTokens(record: SimulatedRequest): number | undefined {
  const body = record.body as {
    max_tokens?: number;
    max_completion_tokens?: number;
    generationConfig?: { maxOutputTokens?: number };
  };
  const value =
    body.max_completion_tokens ?? body.max_tokens ?? body.generationConfig?.maxOutputTokens;
  return typeof value === 'number' ? value : undefined;
}

function openAiUsage(usage: Usage) {
  return {
    prompt_tokens: usage.promptTokens,
    completion_tokens: usage.completionTokens,
    total_tokens: usage.totalTokens,
    ...(usage.cacheReadTokens > 0
      ? { prompt_tokens_details: { cached_tokens: usage.cacheReadTokens } }
      : {}),
    ...(usage.costUsd !== undefined ? { cost: usage.costUsd } : {}),
  };
}

function openAiCompletion(
  model: string,
  text: string,
  finish: string,
  usage: Usage,
  calls: readonly SimulatedToolCall[],
) {
  const message =
    calls.length > 0
      ? { role: 'assistant', content: null, tool_calls: calls.map(openAiToolCall) }
      : { role: 'assistant', content: text };
  return {
    id: 'chatcmpl-sim',
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model,
    choices: [
      {
        index: 0,
        message,
        finish_reason: finish,
        logprobs: null,
      },
    ],
    usage: openAiUsage(usage),
  };
}

function openAiToolCall(call: SimulatedToolCall) {
  return {
    id: call.id,
    type: 'function',
    function: { name: call.name, arguments: call.arguments },
  };
}

/** A call streamed as OpenAI does: id and name with empty arguments, then argument pieces. */
function openAiToolCallChunks(model: string, call: SimulatedToolCall, index: number): string[] {
  const fragment = (args: string) =>
    sseData(openAiChunk(model, { tool_calls: [{ index, function: { arguments: args } }] }, null));
  const head = {
    index,
    id: call.id,
    type: 'function',
    function: { name: call.name, arguments: '' },
  };
  return [
    sseData(openAiChunk(model, { tool_calls: [head] }, null)),
    ...argumentFragments(call.arguments).map(fragment),
  ];
}

function openAiChunk(model: string, delta: Record<string, unknown>, finish: string | null) {
  return {
    id: 'chatcmpl-sim',
    object: 'chat.completion.chunk',
    created: Math.floor(Date.now() / 1000),
    model,
    choices: [{ index: 0, delta, finish_reason: finish }],
  };
}

function geminiFinish(finish: string): string {
  return finish === 'length' ? 'MAX_TOKENS' : 'STOP';
}

function geminiUsage(usage: Usage) {
  return {
    promptTokenCount: usage.promptTokens,
    candidatesTokenCount: usage.completionTokens,
    totalTokenCount: usage.totalTokens,
    ...(usage.cacheReadTokens > 0 ? { cachedContentTokenCount: usage.cacheReadTokens } : {}),
  };
}

function geminiResponse(
  model: string,
  text: string,
  finish: string,
  usage: Usage,
  calls: readonly SimulatedToolCall[],
) {
  const parts = calls.length > 0 ? calls.map(geminiFunctionCallPart) : [{ text }];
  return {
    candidates: [
      {
        content: { role: 'model', parts },
        finishReason: geminiFinish(finish),
        index: 0,
      },
    ],
    usageMetadata: geminiUsage(usage),
    modelVersion: model,
  };
}

function geminiFunctionCallPart(call: SimulatedToolCall) {
  return { functionCall: { name: call.name, args: JSON.parse(call.arguments) as unknown } };
}

function geminiChunk(
  model: string,
  part: Record<string, unknown>,
  finishReason?: string,
  usage?: Usage,
) {
  return {
    candidates: [
      {
        content: { role: 'model', parts: [part] },
        index: 0,
        ...(finishReason ? { finishReason } : {}),
      },
    ],
    ...(usage ? { usageMetadata: geminiUsage(usage) } : {}),
    modelVersion: model,
  };
}

/** Anthropic counts only the uncached part of the prompt as `input_tokens`. */
function anthropicUsage(usage: Usage): AnthropicUsage {
  return {
    inputTokens: usage.promptTokens - usage.cacheReadTokens - usage.cacheWriteTokens,
    outputTokens: usage.completionTokens,
    cacheReadTokens: usage.cacheReadTokens,
    cacheWriteTokens: usage.cacheWriteTokens,
  };
}

/** The conversation of a request body, per API. */
const MESSAGES_OF: Readonly<Record<SimulatedApi, (body: unknown) => SimulatedMessage[]>> = {
  openai: openAiMessages,
  gemini: geminiMessages,
  anthropic: anthropicMessages,
};

type ReplyBody = (
  model: string,
  text: string,
  finish: string,
  usage: Usage,
  calls: readonly SimulatedToolCall[],
) => unknown;

/** A whole (non-streamed) reply, per API. */
const REPLY_BODY: Readonly<Record<SimulatedApi, ReplyBody>> = {
  openai: openAiCompletion,
  gemini: geminiResponse,
  anthropic: (model, text, finish, usage, calls) =>
    anthropicMessage(model, text, finish, anthropicUsage(usage), calls),
};

interface StreamContext {
  model: string;
  finish: string;
  usage: Usage;
  /** OpenAI: `stream_options.include_usage` was asked for. */
  includeUsage: boolean;
  /** The reply is tool calls, not text. */
  toolReply: boolean;
}

/** The SSE text of one streamed reply, per API; the simulator's loop decides what is sent when. */
interface StreamDialect {
  /** Sent right after the headers. */
  opening: string;
  delta(text: string, last: boolean): string;
  /** The chunks of a reply made of tool calls, each call's arguments in two or more pieces. */
  toolCalls(calls: readonly SimulatedToolCall[]): string[];
  /** An error reported inside the 200 stream. */
  errorEvent(code: number): string;
  /** A chunk whose JSON is cut short. */
  malformed: string;
  /** Sent after the last delta; `empty` when there was none. */
  closing(empty: boolean): string;
}

const sseData = (data: unknown) => `data: ${JSON.stringify(data)}\n\n`;
const MALFORMED_DATA = 'data: {"choices": [{"delta": {"content": "oops"\n\n';

const STREAM_DIALECTS: Readonly<Record<SimulatedApi, (context: StreamContext) => StreamDialect>> = {
  openai: ({ model, finish, usage, includeUsage, toolReply }) => ({
    opening: sseData(
      openAiChunk(model, { role: 'assistant', content: toolReply ? null : '' }, null),
    ),
    delta: (text) => sseData(openAiChunk(model, { content: text }, null)),
    toolCalls: (calls) => calls.flatMap((call, index) => openAiToolCallChunks(model, call, index)),
    errorEvent: (code) =>
      sseData({
        id: 'gen-sim',
        object: 'chat.completion.chunk',
        created: Math.floor(Date.now() / 1000),
        model,
        error: { code, message: 'Provider returned error' },
        choices: [{ index: 0, delta: { content: '' }, finish_reason: 'error' }],
      }),
    malformed: MALFORMED_DATA,
    closing: () =>
      sseData(openAiChunk(model, {}, finish)) +
      (includeUsage
        ? sseData({
            id: 'chatcmpl-sim',
            object: 'chat.completion.chunk',
            created: Math.floor(Date.now() / 1000),
            model,
            choices: [],
            usage: openAiUsage(usage),
          })
        : '') +
      'data: [DONE]\n\n',
  }),
  gemini: ({ model, finish, usage }) => ({
    opening: '',
    delta: (text, last) =>
      sseData(
        geminiChunk(
          model,
          { text },
          last ? geminiFinish(finish) : undefined,
          last ? usage : undefined,
        ),
      ),
    toolCalls: (calls) =>
      calls.map((call, index) => {
        const last = index === calls.length - 1;
        const part = geminiFunctionCallPart(call);
        return sseData(
          geminiChunk(
            model,
            part,
            last ? geminiFinish(finish) : undefined,
            last ? usage : undefined,
          ),
        );
      }),
    errorEvent: (code) =>
      sseData({ error: { code, message: 'Provider returned error', status: 'INTERNAL' } }),
    malformed: MALFORMED_DATA,
    closing: (empty) =>
      empty ? sseData(geminiChunk(model, { text: '' }, geminiFinish(finish), usage)) : '',
  }),
  anthropic: ({ model, finish, usage, toolReply }) => ({
    opening: anthropicStreamOpening(model, anthropicUsage(usage), !toolReply),
    delta: (text) => anthropicTextDelta(text),
    toolCalls: (calls) =>
      calls.flatMap((call, index) => anthropicToolUseBlock(call, index, argumentFragments)),
    errorEvent: (code) => anthropicErrorEvent(code),
    malformed: 'event: content_block_delta\ndata: {"type": "content_block_delta", "delta": {\n\n',
    closing: () => anthropicStreamClosing(finish, anthropicUsage(usage), !toolReply),
  }),
};

function errorMessage(status: number): string {
  if (status === 429) return 'Rate limit reached (simulated)';
  if (status === 529) return 'Overloaded (simulated)';
  if (status === 401) return 'Invalid API key (simulated)';
  if (status === 403) return 'Forbidden (simulated)';
  if (status >= 500) return 'Upstream failure (simulated)';
  return 'Bad request (simulated)';
}

const GEMINI_STATUS: Record<number, string> = {
  400: 'INVALID_ARGUMENT',
  401: 'UNAUTHENTICATED',
  403: 'PERMISSION_DENIED',
  404: 'NOT_FOUND',
  429: 'RESOURCE_EXHAUSTED',
  500: 'INTERNAL',
  503: 'UNAVAILABLE',
};

function sendError(
  res: ServerResponse,
  api: SimulatedApi,
  status: number,
  message: string,
  retryAfter?: number | string,
): void {
  if (retryAfter !== undefined) res.setHeader('retry-after', String(retryAfter));
  if (api === 'anthropic') {
    sendJson(res, status, anthropicErrorBody(status, message));
    return;
  }
  if (api === 'openai') {
    sendJson(res, status, { error: { message, type: 'simulated_error', code: status } });
    return;
  }
  const details =
    status === 429 && typeof retryAfter === 'number'
      ? [{ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: `${retryAfter}s` }]
      : [];
  sendJson(res, status, {
    error: { code: status, message, status: GEMINI_STATUS[status] ?? 'UNKNOWN', details },
  });
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function headerValue(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function bearer(req: IncomingMessage): string | undefined {
  const match = /^Bearer\s+(.+)$/i.exec(headerValue(req, 'authorization') ?? '');
  return match?.[1];
}

function stringField(body: unknown, field: string): string | undefined {
  const value = (body as Record<string, unknown> | null)?.[field];
  return typeof value === 'string' ? value : undefined;
}

function contentText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    return content
      .map((part: { text?: unknown }) => (typeof part?.text === 'string' ? part.text : ''))
      .join('');
  }
  return '';
}

function openAiMessages(body: unknown): SimulatedMessage[] {
  const messages = (body as { messages?: unknown }).messages;
  if (!Array.isArray(messages)) return [];
  return messages.map((m: { role?: unknown; content?: unknown }) => ({
    role: typeof m.role === 'string' ? m.role : 'user',
    content: contentText(m.content),
  }));
}

function geminiMessages(body: unknown): SimulatedMessage[] {
  const request = body as {
    contents?: { role?: string; parts?: { text?: string }[] }[];
    systemInstruction?: { parts?: { text?: string }[] } | string;
  };
  const out: { role: string; content: string }[] = [];
  const system = request.systemInstruction;
  if (typeof system === 'string') out.push({ role: 'system', content: system });
  else if (system?.parts) out.push({ role: 'system', content: contentText(system.parts) });
  for (const content of request.contents ?? []) {
    out.push({
      role: content.role === 'model' ? 'assistant' : 'user',
      content: contentText(content.parts ?? []),
    });
  }
  return out;
}

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/** A content part of either API, as far as the checks below read it. */
interface MediaPart {
  type?: unknown;
  image_url?: { url?: unknown };
  file?: { file_data?: unknown };
  inlineData?: { mimeType?: unknown; data?: unknown };
}

/**
 * Why the providers would refuse an image or document part of the request, as they do: OpenAI's
 * `image_url` must be an http(s) URL or a base64 data URL of an image, a `file` part's
 * `file_data` a base64 data URL; Gemini's `inlineData` needs a mime type and base64 data.
 */
function invalidMediaPart(api: SimulatedApi, body: unknown): string | undefined {
  const dataUrl = /^data:([\w.+-]+\/[\w.+-]+);base64,(.+)$/s;
  if (api === 'openai') {
    for (const message of (body as { messages?: { content?: unknown }[] }).messages ?? []) {
      if (!Array.isArray(message?.content)) continue;
      for (const part of message.content as MediaPart[]) {
        if (part?.type === 'image_url') {
          const url = typeof part.image_url?.url === 'string' ? part.image_url.url : '';
          const data = dataUrl.exec(url);
          const ok =
            /^https?:\/\//.test(url) || (data?.[1].startsWith('image/') && BASE64.test(data[2]));
          if (!ok) return 'Invalid image_url: expected an http(s) URL or a base64 image data URL';
        } else if (part?.type === 'file') {
          const fileData = typeof part.file?.file_data === 'string' ? part.file.file_data : '';
          const data = dataUrl.exec(fileData);
          if (!data || !BASE64.test(data[2])) {
            return 'Invalid file part: file_data must be a base64 data URL';
          }
        } else if (part?.type !== 'text') {
          return `Unknown content part type ${String(part?.type)}`;
        }
      }
    }
    return undefined;
  }
  if (api === 'anthropic') return invalidAnthropicBlock(body);
  for (const content of (body as { contents?: { parts?: MediaPart[] }[] }).contents ?? []) {
    for (const part of content?.parts ?? []) {
      if (part?.inlineData === undefined) continue;
      const { mimeType, data } = part.inlineData;
      if (typeof mimeType !== 'string' || typeof data !== 'string' || !BASE64.test(data)) {
        return 'Invalid inlineData: mimeType and base64 data are required';
      }
    }
  }
  return undefined;
}

/**
 * Anthropic's refusals of `image` and `document` blocks: a base64 source needs a supported
 * media type (png, jpeg, gif, webp images; PDF documents) and base64 data.
 */
function invalidAnthropicBlock(body: unknown): string | undefined {
  const images = ['image/png', 'image/jpeg', 'image/gif', 'image/webp'];
  for (const message of (body as { messages?: { content?: unknown }[] }).messages ?? []) {
    if (!Array.isArray(message?.content)) continue;
    for (const block of message.content as {
      type?: unknown;
      source?: { type?: unknown; media_type?: unknown; data?: unknown };
    }[]) {
      if (block?.type !== 'image' && block?.type !== 'document') continue;
      const { type, media_type: mediaType, data } = block.source ?? {};
      const allowed = block.type === 'image' ? images : ['application/pdf'];
      if (
        type !== 'base64' ||
        !allowed.includes(String(mediaType)) ||
        typeof data !== 'string' ||
        !BASE64.test(data)
      ) {
        return `${block.type}.source: a base64 source of ${allowed.join(', ')} is required`;
      }
    }
  }
  return undefined;
}

/** `delayMs` varied uniformly by up to `jitterMs` either way (never below 0). */
export function jitteredDelay(delayMs: number, jitterMs: number, random = Math.random): number {
  const jitter = Math.min(jitterMs, delayMs);
  return jitter > 0 ? delayMs - jitter + random() * 2 * jitter : delayMs;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (ms <= 0 || signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
