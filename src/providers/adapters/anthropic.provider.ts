import Anthropic, {
  AnthropicError,
  APIConnectionError,
  APIError,
  APIUserAbortError,
} from '@anthropic-ai/sdk';
import type {
  Base64ImageSource,
  DocumentBlockParam,
  ImageBlockParam,
  Message,
  MessageCreateParamsBase,
  MessageParam,
  RawMessageStreamEvent,
  TextBlockParam,
  ToolChoice as AnthropicToolChoice,
  ToolResultBlockParam,
  ToolUseBlockParam,
} from '@anthropic-ai/sdk/resources/messages';
import type {
  BinaryInput,
  ChatProvider,
  FinishReason,
  ModelInfo,
  ProviderCompletion,
  ProviderMessage,
  ProviderRequest,
  ProviderStreamEvent,
  TokenUsage,
  ToolCall,
  ToolChoice,
} from '../chat-provider.interface';
import { catalogModels, modelInfos, type CatalogModel } from '../model-catalog';
import {
  GenerationAbortedError,
  UpstreamError,
  type UpstreamFailureKind,
} from '../provider.errors';
import {
  BINARY_INPUT_TOKENS,
  countTokens,
  estimateUsage,
  MESSAGE_OVERHEAD_TOKENS,
  withCacheUsage,
} from '../token-counter';
import { openUpstream } from './open-upstream';
import { PerKeyClients } from './per-key-clients';
import { normalizeSdkError, type SdkErrorClasses } from './sdk-errors';
import { argumentsObject } from './tool-arguments';

export const ANTHROPIC_DEFAULT_BASE_URL = 'https://api.anthropic.com';

/** Shortest cacheable prefix assumed for a Claude model the catalog does not list. */
const DEFAULT_PROMPT_CACHE_MIN_TOKENS = 1024;

/** New Claude models work before the catalog lists them. */
const CLAUDE_MODEL = /^claude-[\w.-]+$/;

export interface AnthropicProviderOptions {
  /** API root without the version path; the SDK appends `/v1/messages`. */
  baseUrl: string;
  /** `max_tokens` when a request sets none (the API requires one), capped by the model's limit. */
  defaultMaxTokens: number;
  /** The SDK's own ceiling; the resilience layer has the finer timers. */
  timeoutMs: number;
}

/**
 * Anthropic's Messages API through the official `@anthropic-ai/sdk`. System messages go to
 * `system`, consecutive turns of one role are merged (the API wants them alternating),
 * `max_tokens` is always sent, and a long conversation's stable prefix is marked for prompt
 * caching (see `toAnthropicConversation`). Thinking blocks of adaptive-thinking models are not
 * part of the reply text. The SDK's own retries are off: the resilience layer is the one retry
 * loop.
 */
export class AnthropicProvider implements ChatProvider {
  readonly name = 'anthropic';
  private readonly clients: PerKeyClients<Anthropic>;

  constructor(private readonly options: AnthropicProviderOptions) {
    this.clients = new PerKeyClients(
      (apiKey) =>
        new Anthropic({
          // A key passed here is the client's only credential: no environment variable, config
          // file or profile is read for another.
          apiKey: apiKey ?? '',
          baseURL: options.baseUrl,
          maxRetries: 0,
          // Set explicitly, so the SDK does not refuse a large non-streamed max_tokens itself.
          timeout: options.timeoutMs,
          logLevel: 'off',
        }),
    );
  }

  listModels(): ModelInfo[] {
    return modelInfos(this.name);
  }

  supportsModel(model: string): boolean {
    return this.catalogEntry(model) !== undefined || CLAUDE_MODEL.test(model);
  }

  async complete(
    request: ProviderRequest,
    apiKey: string | undefined,
  ): Promise<ProviderCompletion> {
    const message: Message = await openUpstream(request, normalizeAnthropicError, () =>
      this.clients
        .get(apiKey)
        .messages.create({ ...this.body(request), stream: false }, { signal: request.signal }),
    );
    if (!Array.isArray(message?.content)) {
      throw new UpstreamError('malformed', 'anthropic: message without content');
    }
    const text = message.content.map((block) => (block.type === 'text' ? block.text : '')).join('');
    const toolCalls = message.content.flatMap((block): ToolCall[] =>
      block.type === 'tool_use'
        ? [{ id: block.id, name: block.name, arguments: JSON.stringify(block.input ?? {}) }]
        : [],
    );
    return {
      text,
      model: `${this.name}/${request.model}`,
      usage: toUsage(message.usage, request, text),
      finishReason: toFinishReason(message.stop_reason),
      ...(toolCalls.length > 0 ? { toolCalls } : {}),
    };
  }

  async *stream(
    request: ProviderRequest,
    apiKey: string | undefined,
  ): AsyncIterable<ProviderStreamEvent> {
    const stream: AsyncIterable<RawMessageStreamEvent> = await openUpstream(
      request,
      normalizeAnthropicError,
      () =>
        this.clients
          .get(apiKey)
          .messages.create({ ...this.body(request), stream: true }, { signal: request.signal }),
    );

    let text = '';
    let usage: UsageReport | undefined;
    let stopReason: string | null | undefined;
    let stopped = false;
    // tool_use blocks by content index: the id and name come first, the input in JSON pieces.
    const calls = new Map<number, ToolCall>();
    try {
      // `error` events (e.g. overloaded_error after the 200) are thrown by the SDK as an
      // APIError without status; `ping` needs nothing.
      for await (const event of stream) {
        if (event.type === 'message_start') {
          usage = { ...event.message.usage };
        } else if (event.type === 'content_block_delta' && event.delta.type === 'text_delta') {
          if (event.delta.text) {
            text += event.delta.text;
            yield { type: 'delta', text: event.delta.text };
          }
        } else if (
          event.type === 'content_block_start' &&
          event.content_block.type === 'tool_use'
        ) {
          const { id, name } = event.content_block;
          calls.set(event.index, { id, name, arguments: '' });
        } else if (
          event.type === 'content_block_delta' &&
          event.delta.type === 'input_json_delta' &&
          calls.has(event.index)
        ) {
          calls.get(event.index)!.arguments += event.delta.partial_json;
        } else if (event.type === 'content_block_stop' && calls.has(event.index)) {
          const call = calls.get(event.index)!;
          calls.delete(event.index);
          yield { type: 'tool_call', call: { ...call, arguments: call.arguments || '{}' } };
        } else if (event.type === 'message_delta') {
          stopReason = event.delta.stop_reason;
          usage = mergeUsage(usage, event.usage);
        } else if (event.type === 'message_stop') {
          stopped = true;
        }
      }
    } catch (error) {
      throw normalizeAnthropicError(error, request.signal);
    }
    // The SDK ends the iteration quietly when its signal aborts: that is not a normal end.
    if (request.signal?.aborted) throw new GenerationAbortedError();
    if (!stopped) {
      throw new UpstreamError('network', 'anthropic: stream ended without message_stop');
    }
    yield {
      type: 'done',
      usage: toUsage(usage, request, text),
      finishReason: toFinishReason(stopReason),
    };
  }

  private body(request: ProviderRequest): MessageCreateParamsBase {
    const entry = this.catalogEntry(request.model);
    const conversation = toAnthropicConversation(
      request.messages,
      entry?.promptCacheMinTokens ?? DEFAULT_PROMPT_CACHE_MIN_TOKENS,
    );
    const body: MessageCreateParamsBase = {
      model: request.model,
      max_tokens:
        request.maxTokens ??
        Math.min(this.options.defaultMaxTokens, entry?.maxOutputTokens ?? Infinity),
      messages: conversation.messages,
    };
    // No temperature: the API version this SDK speaks (2026-10-21) refuses every sampling
    // parameter with 400, so a request's temperature does not apply to Claude models.
    if (conversation.system) body.system = conversation.system;
    if (request.tools?.length) {
      body.tools = request.tools.map((tool) => ({
        name: tool.name,
        ...(tool.description ? { description: tool.description } : {}),
        input_schema: tool.parameters as { type: 'object' },
      }));
      if (request.toolChoice) body.tool_choice = toAnthropicToolChoice(request.toolChoice);
    }
    return body;
  }

  private catalogEntry(model: string): CatalogModel | undefined {
    return catalogModels(this.name).find((entry) => entry.model === model);
  }
}

function toAnthropicToolChoice(choice: ToolChoice): AnthropicToolChoice {
  if (typeof choice !== 'string') return { type: 'tool', name: choice.name };
  return choice === 'required' ? { type: 'any' } : { type: choice };
}

/** The request's conversation in the Messages API's shape. */
export interface AnthropicConversation {
  system?: TextBlockParam[];
  messages: MessageParam[];
}

/**
 * The one place messages are converted: system messages → `system` blocks; `user` and
 * `assistant` turns → messages of text blocks, then the turn's images (`image`) and PDFs
 * (`document`) as base64 blocks, or its calls (`tool_use`); `tool` messages → `tool_result`
 * blocks of the user's turn; consecutive turns of one role merged into one message (the API
 * requires alternation); empty turns dropped (the API refuses empty text).
 *
 * Prompt caching (at most 2 of the API's 4 `cache_control` breakpoints):
 * - the system prompt is marked when it alone is at least `cacheMinTokens` long;
 * - the stable prefix — system prompt and every turn before the final message — is marked on
 *   its last block when it is at least `cacheMinTokens` long. The next request of the same
 *   conversation repeats that prefix plus one exchange, so the API finds the cached entry by
 *   looking back from its own mark and reads it; only the newest exchange is written.
 * Lengths are the app's token estimate (which errs high); a prefix the API deems too short is
 * simply not cached, never an error.
 */
export function toAnthropicConversation(
  input: readonly ProviderMessage[],
  cacheMinTokens: number,
): AnthropicConversation {
  const system: TextBlockParam[] = [];
  const messages: (MessageParam & { content: ConversationBlock[] })[] = [];
  for (const message of input) {
    const blocks = conversationBlocks(message);
    if (blocks.length === 0) continue;
    if (message.role === 'system') {
      system.push(...(blocks as TextBlockParam[]));
      continue;
    }
    // Anthropic has no `tool` role: tool results travel in the user's turn.
    const role = message.role === 'assistant' ? 'assistant' : 'user';
    const previous = messages.at(-1);
    if (previous?.role === role) previous.content.push(...blocks);
    else messages.push({ role, content: blocks });
  }

  const tokensOf = (blocks: readonly ConversationBlock[]) =>
    blocks.reduce((sum, block) => sum + MESSAGE_OVERHEAD_TOKENS + blockTokens(block), 0);
  const systemTokens = tokensOf(system);
  if (system.length > 0 && systemTokens >= cacheMinTokens) markCacheable(system);
  const stable = messages.slice(0, -1);
  const stableTokens = systemTokens + stable.reduce((sum, m) => sum + tokensOf(m.content), 0);
  if (stable.length > 0 && stableTokens >= cacheMinTokens) markCacheable(stable.at(-1)!.content);

  return system.length > 0 ? { system, messages } : { messages };
}

/** A block of a conversation turn: its text, then its images and PDFs, or its tool calls or results. */
type ConversationBlock =
  TextBlockParam | ImageBlockParam | DocumentBlockParam | ToolUseBlockParam | ToolResultBlockParam;

function conversationBlocks(message: ProviderMessage): ConversationBlock[] {
  if (message.role === 'tool') {
    return [
      {
        type: 'tool_result',
        tool_use_id: message.toolCallId ?? '',
        content: message.content,
        ...(message.toolError ? { is_error: true } : {}),
      },
    ];
  }
  const blocks: ConversationBlock[] = message.content
    ? [{ type: 'text', text: message.content }]
    : [];
  blocks.push(...(message.inputs ?? []).map(toAnthropicBlock));
  if (message.role === 'assistant') {
    for (const call of message.toolCalls ?? []) {
      blocks.push({
        type: 'tool_use',
        id: call.id,
        name: call.name,
        input: argumentsObject(call.arguments),
      });
    }
  }
  return blocks;
}

function blockTokens(block: ConversationBlock): number {
  switch (block.type) {
    case 'text':
      return countTokens(block.text);
    case 'tool_use':
      return countTokens(block.name + JSON.stringify(block.input));
    case 'tool_result':
      return countTokens(typeof block.content === 'string' ? block.content : '');
    case 'image':
      return BINARY_INPUT_TOKENS.image;
    case 'document':
      return BINARY_INPUT_TOKENS.pdf;
  }
}

/** An attached image or PDF as Anthropic's base64 `image` or `document` block. */
function toAnthropicBlock(input: BinaryInput): ImageBlockParam | DocumentBlockParam {
  return input.kind === 'image'
    ? {
        type: 'image',
        source: {
          type: 'base64',
          media_type: input.mediaType as Base64ImageSource['media_type'],
          data: input.data,
        },
      }
    : {
        type: 'document',
        source: { type: 'base64', media_type: 'application/pdf', data: input.data },
        title: input.name,
      };
}

/** Puts a cache breakpoint on the last block. */
function markCacheable(blocks: ConversationBlock[]): void {
  blocks[blocks.length - 1] = {
    ...blocks[blocks.length - 1],
    cache_control: { type: 'ephemeral' },
  };
}

/** Anthropic's usage fields; the cache fields may be absent or null. */
interface UsageReport {
  input_tokens?: number | null;
  output_tokens?: number | null;
  cache_creation_input_tokens?: number | null;
  cache_read_input_tokens?: number | null;
}

/** message_delta repeats the counts (cumulative); a null or absent field keeps the earlier value. */
function mergeUsage(base: UsageReport | undefined, update: UsageReport): UsageReport {
  const merged: UsageReport = { ...base };
  for (const [field, value] of Object.entries(update) as [keyof UsageReport, unknown][]) {
    if (typeof value === 'number') merged[field] = value;
  }
  return merged;
}

/**
 * `input_tokens` counts only the uncached part of the prompt, so the prompt is its sum with
 * the cache reads and writes (as OpenAI's `prompt_tokens` includes its cached tokens).
 */
function toUsage(
  usage: UsageReport | undefined,
  request: ProviderRequest,
  text: string,
): TokenUsage {
  if (typeof usage?.input_tokens !== 'number') return estimateUsage(request.messages, text);
  const cacheRead = usage.cache_read_input_tokens ?? 0;
  const cacheWrite = usage.cache_creation_input_tokens ?? 0;
  const promptTokens = usage.input_tokens + cacheRead + cacheWrite;
  const completionTokens = usage.output_tokens ?? 0;
  return withCacheUsage(
    { promptTokens, completionTokens, totalTokens: promptTokens + completionTokens },
    cacheRead,
    cacheWrite,
  );
}

function toFinishReason(reason: string | null | undefined): FinishReason {
  if (reason === 'tool_use') return 'tool_calls';
  if (reason === 'max_tokens' || reason === 'model_context_window_exceeded') return 'length';
  if (reason === 'refusal') return 'content_filter';
  return 'stop';
}

const ANTHROPIC_ERRORS: SdkErrorClasses = {
  api: APIError,
  connection: APIConnectionError,
  userAbort: APIUserAbortError,
  base: AnthropicError,
};

/** `error.type` of an `error` event sent inside a 200 stream. */
const STREAM_ERROR_KINDS: Readonly<Record<string, UpstreamFailureKind>> = {
  overloaded_error: 'server',
  api_error: 'server',
  rate_limit_error: 'rate_limited',
  authentication_error: 'auth',
  permission_error: 'auth',
  invalid_request_error: 'bad_request',
  not_found_error: 'bad_request',
  request_too_large: 'bad_request',
};

/** An `event: error` inside a 200 stream: `{type: "error", error: {type, message}}`. */
function streamError(body: unknown): UpstreamError {
  const error = (body as { error?: { type?: unknown; message?: unknown } } | undefined)?.error;
  const type = typeof error?.type === 'string' ? error.type : 'unknown';
  const message = typeof error?.message === 'string' ? error.message : 'no message';
  return new UpstreamError(STREAM_ERROR_KINDS[type] ?? 'server', `error event ${type}: ${message}`);
}

/** Maps what the SDK threw to an UpstreamError (529 overloaded is a 5xx: retried) or an abort. */
export function normalizeAnthropicError(error: unknown, signal: AbortSignal | undefined): Error {
  return normalizeSdkError(error, signal, ANTHROPIC_ERRORS, streamError);
}
