import OpenAI, { APIConnectionError, APIError, APIUserAbortError, OpenAIError } from 'openai';
import type {
  ChatCompletion,
  ChatCompletionChunk,
  ChatCompletionContentPart,
  ChatCompletionCreateParamsBase,
  ChatCompletionMessageParam,
  ChatCompletionMessageToolCall,
  ChatCompletionToolChoiceOption,
} from 'openai/resources/chat/completions';
import type { CompletionUsage } from 'openai/resources/completions';
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
import { modelInfos, type CatalogModel } from '../model-catalog';
import { failureForStatus, GenerationAbortedError, UpstreamError } from '../provider.errors';
import { estimateUsage, withCacheUsage } from '../token-counter';
import { openUpstream } from './open-upstream';
import { PerKeyClients } from './per-key-clients';
import { normalizeSdkError, type SdkErrorClasses } from './sdk-errors';

export interface OpenAiCompatibleOptions {
  /** Model-id prefix: `openrouter`, `groq`, `openai`, `openai-compatible`. */
  name: string;
  /** API root including the version path, e.g. `https://api.groq.com/openai/v1`. */
  baseUrl: string;
  /** Models listed by GET /api/models. */
  models: readonly CatalogModel[];
  /** Accepts a model that is not listed (OpenRouter routes hundreds of `vendor/model` ids). */
  acceptsUnlisted?: (model: string) => boolean;
  /** Extra headers on every request (OpenRouter attribution). */
  defaultHeaders?: Record<string, string>;
  /** OpenAI itself wants `max_completion_tokens`; most compatible servers only know `max_tokens`. */
  maxTokensParam: 'max_tokens' | 'max_completion_tokens';
  /** The SDK's own ceiling until response headers; the resilience layer has the finer timers. */
  timeoutMs: number;
}

/** Some servers (Groq) put the usage of a stream in `x_groq.usage` instead of `usage`. */
type ChunkWithExtras = ChatCompletionChunk & { x_groq?: { usage?: CompletionUsage } };

/**
 * Any server speaking OpenAI's chat completions API, through the official `openai` SDK:
 * OpenRouter, Groq, OpenAI, and self-hosted Ollama / vLLM / LM Studio. The SDK's own retries
 * are off (`maxRetries: 0`): the resilience layer is the one retry loop.
 */
export class OpenAiCompatibleProvider implements ChatProvider {
  readonly name: string;
  private readonly clients: PerKeyClients<OpenAI>;

  constructor(private readonly options: OpenAiCompatibleOptions) {
    this.name = options.name;
    this.clients = new PerKeyClients(
      (apiKey) =>
        new OpenAI({
          // Self-hosted servers usually need no key; the SDK insists on one.
          apiKey: apiKey ?? 'no-key',
          baseURL: options.baseUrl,
          maxRetries: 0,
          timeout: options.timeoutMs,
          defaultHeaders: options.defaultHeaders,
          // Never pick these up from the process environment.
          organization: null,
          project: null,
          logLevel: 'off',
        }),
    );
  }

  listModels(): ModelInfo[] {
    return modelInfos(this.name, this.options.models);
  }

  supportsModel(model: string): boolean {
    return (
      this.options.models.some((entry) => entry.model === model) ||
      (this.options.acceptsUnlisted?.(model) ?? false)
    );
  }

  async complete(
    request: ProviderRequest,
    apiKey: string | undefined,
  ): Promise<ProviderCompletion> {
    const completion: ChatCompletion = await openUpstream(request, normalizeError, () =>
      this.clients
        .get(apiKey)
        .chat.completions.create(
          { ...this.body(request), stream: false },
          { signal: request.signal },
        ),
    );
    // OpenRouter may answer 200 with an error object instead of a completion.
    const embedded = (completion as { error?: unknown }).error;
    if (embedded) throw embeddedError(embedded);
    const choice = completion.choices?.[0];
    const toolCalls = (choice?.message?.tool_calls ?? []).flatMap(fromOpenAiToolCall);
    const content = choice?.message?.content;
    if (!choice || (typeof content !== 'string' && toolCalls.length === 0)) {
      throw new UpstreamError('malformed', `${this.name}: completion without a message`);
    }
    const text = content ?? '';
    return {
      text,
      model: `${this.name}/${request.model}`,
      usage: toUsage(completion.usage, request, text),
      finishReason: toolCalls.length > 0 ? 'tool_calls' : toFinishReason(choice.finish_reason),
      ...(toolCalls.length > 0 ? { toolCalls } : {}),
    };
  }

  async *stream(
    request: ProviderRequest,
    apiKey: string | undefined,
  ): AsyncIterable<ProviderStreamEvent> {
    const stream: AsyncIterable<ChatCompletionChunk> = await openUpstream(
      request,
      normalizeError,
      () =>
        this.clients
          .get(apiKey)
          .chat.completions.create(
            { ...this.body(request), stream: true, stream_options: { include_usage: true } },
            { signal: request.signal },
          ),
    );

    let text = '';
    let usage: CompletionUsage | undefined;
    let finish: string | null = null;
    const calls = new ToolCallAssembler();
    try {
      // `: OPENROUTER PROCESSING` comments are skipped by the SDK's SSE decoder; an error sent
      // as a `data:` event after the 200 is thrown by it as an APIError without status.
      for await (const chunk of stream as AsyncIterable<ChunkWithExtras>) {
        usage = chunk.usage ?? chunk.x_groq?.usage ?? usage;
        const choice = chunk.choices?.[0];
        const delta = choice?.delta?.content;
        for (const fragment of choice?.delta?.tool_calls ?? []) calls.add(fragment);
        if (delta) {
          text += delta;
          yield { type: 'delta', text: delta };
        }
        if (choice?.finish_reason) {
          finish = choice.finish_reason;
          // The calls are whole once the choice finishes.
          for (const call of calls.takeAll()) yield { type: 'tool_call', call };
        }
      }
    } catch (error) {
      throw normalizeError(error, request.signal);
    }
    // The SDK ends the iteration quietly when its signal aborts: that is not a normal end.
    if (request.signal?.aborted) throw new GenerationAbortedError();
    if (finish === null) {
      throw new UpstreamError('network', `${this.name}: stream ended without a finish reason`);
    }
    if (finish === 'error') {
      throw new UpstreamError('server', `${this.name}: stream finished with reason "error"`);
    }
    yield {
      type: 'done',
      usage: toUsage(usage, request, text),
      finishReason: calls.count > 0 ? 'tool_calls' : toFinishReason(finish),
    };
  }

  private body(request: ProviderRequest): ChatCompletionCreateParamsBase {
    const body: ChatCompletionCreateParamsBase = {
      model: request.model,
      messages: request.messages.map(toOpenAiMessage),
    };
    if (request.temperature !== undefined) body.temperature = request.temperature;
    if (request.maxTokens !== undefined) body[this.options.maxTokensParam] = request.maxTokens;
    if (request.tools?.length) {
      body.tools = request.tools.map((tool) => ({
        type: 'function',
        function: {
          name: tool.name,
          ...(tool.description ? { description: tool.description } : {}),
          parameters: tool.parameters,
        },
      }));
      if (request.toolChoice) body.tool_choice = toOpenAiToolChoice(request.toolChoice);
    }
    return body;
  }
}

function toOpenAiToolChoice(choice: ToolChoice): ChatCompletionToolChoiceOption {
  return typeof choice === 'string'
    ? choice
    : { type: 'function', function: { name: choice.name } };
}

/** A function call of a completion as a ToolCall (custom tool calls are not offered, so skipped). */
function fromOpenAiToolCall(call: ChatCompletionMessageToolCall): ToolCall[] {
  return call.type === 'function'
    ? [{ id: call.id, name: call.function.name, arguments: call.function.arguments }]
    : [];
}

/** A `delta.tool_calls` entry: the first piece of a call has its id and name. */
interface ToolCallFragment {
  index: number;
  id?: string;
  function?: { name?: string; arguments?: string };
}

/**
 * Assembles streamed `delta.tool_calls` fragments into whole calls by `index`: the first
 * fragment of a call brings its id and name, the following ones pieces of its arguments.
 */
export class ToolCallAssembler {
  private readonly pending = new Map<number, ToolCall>();
  private emitted = 0;

  add(fragment: ToolCallFragment): void {
    const call = this.pending.get(fragment.index) ?? { id: '', name: '', arguments: '' };
    if (fragment.id) call.id = fragment.id;
    if (fragment.function?.name) call.name += fragment.function.name;
    if (fragment.function?.arguments) call.arguments += fragment.function.arguments;
    this.pending.set(fragment.index, call);
  }

  /** The calls assembled so far, in index order; they are handed out once. */
  takeAll(): ToolCall[] {
    const calls = [...this.pending.entries()]
      .sort(([a], [b]) => a - b)
      .map(([index, call]) => ({
        id: call.id || `call_${index}`,
        name: call.name,
        arguments: call.arguments || '{}',
      }));
    this.pending.clear();
    this.emitted += calls.length;
    return calls;
  }

  /** Calls handed out so far. */
  get count(): number {
    return this.emitted;
  }
}

/** A message in Chat Completions form: plain text, or text then image / file parts. */
function toOpenAiMessage(message: ProviderMessage): ChatCompletionMessageParam {
  if (message.role === 'tool') {
    return { role: 'tool', tool_call_id: message.toolCallId ?? '', content: message.content };
  }
  if (message.role === 'assistant' && message.toolCalls?.length) {
    return {
      role: 'assistant',
      content: message.content || null,
      tool_calls: message.toolCalls.map((call) => ({
        id: call.id,
        type: 'function',
        function: { name: call.name, arguments: call.arguments },
      })),
    };
  }
  if (message.role !== 'user' || !message.inputs?.length) {
    return { role: message.role, content: message.content };
  }
  return { role: 'user', content: toOpenAiContent(message.content, message.inputs) };
}

/**
 * OpenAI's content parts, also spoken by OpenRouter and Groq: images as `image_url` data URLs,
 * PDFs as `file` parts with the document inline as a data URL.
 */
export function toOpenAiContent(text: string, inputs: BinaryInput[]): ChatCompletionContentPart[] {
  const parts: ChatCompletionContentPart[] = text ? [{ type: 'text', text }] : [];
  for (const input of inputs) {
    const url = `data:${input.mediaType};base64,${input.data}`;
    parts.push(
      input.kind === 'image'
        ? { type: 'image_url', image_url: { url } }
        : { type: 'file', file: { filename: input.name, file_data: url } },
    );
  }
  return parts;
}

function toUsage(
  usage: CompletionUsage | undefined,
  request: ProviderRequest,
  text: string,
): TokenUsage {
  if (usage && typeof usage.prompt_tokens === 'number') {
    const completionTokens = usage.completion_tokens ?? 0;
    // OpenRouter adds the call's charge in credits (1 credit = 1 USD) to every usage report.
    const cost = (usage as CompletionUsage & { cost?: unknown }).cost;
    return withCacheUsage(
      {
        promptTokens: usage.prompt_tokens,
        completionTokens,
        totalTokens: usage.total_tokens ?? usage.prompt_tokens + completionTokens,
        ...(typeof cost === 'number' && Number.isFinite(cost) && cost >= 0
          ? { costUsd: cost }
          : {}),
      },
      // OpenAI's automatic prompt caching; compatible servers mostly leave it out.
      usage.prompt_tokens_details?.cached_tokens,
    );
  }
  // Some compatible servers report no usage: estimate it so quotas still count.
  return estimateUsage(request.messages, text);
}

function toFinishReason(reason: string | null | undefined): FinishReason {
  if (reason === 'length') return 'length';
  if (reason === 'tool_calls' || reason === 'function_call') return 'tool_calls';
  if (reason === 'content_filter') return 'content_filter';
  return 'stop';
}

/** An `error` object a provider put inside a 200 reply or stream event. */
function embeddedError(error: unknown): UpstreamError {
  const code = (error as { code?: unknown })?.code;
  const status =
    typeof code === 'number' ? code : Number.isInteger(Number(code)) ? Number(code) : undefined;
  const message = (error as { message?: unknown })?.message;
  return new UpstreamError(
    status !== undefined && status >= 400 ? failureForStatus(status) : 'server',
    `error event from provider: ${typeof message === 'string' ? message : 'no message'}`,
    { status },
  );
}

const OPENAI_ERRORS: SdkErrorClasses = {
  api: APIError,
  connection: APIConnectionError,
  userAbort: APIUserAbortError,
  base: OpenAIError,
};

/** Maps whatever the SDK (or fetch under it) threw to an UpstreamError or an abort. */
export function normalizeError(error: unknown, signal: AbortSignal | undefined): Error {
  return normalizeSdkError(error, signal, OPENAI_ERRORS, embeddedError);
}
