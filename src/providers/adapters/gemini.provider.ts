import { randomUUID } from 'node:crypto';
import {
  ApiError,
  FunctionCallingConfigMode,
  GoogleGenAI,
  type Content,
  type GenerateContentConfig,
  type GenerateContentParameters,
  type GenerateContentResponse,
  type Part,
  type ToolConfig,
} from '@google/genai';
import type {
  BinaryInput,
  ChatProvider,
  FinishReason,
  ModelInfo,
  ProviderCompletion,
  ProviderRequest,
  ProviderStreamEvent,
  ProviderMessage,
  TokenUsage,
  ToolCall,
  ToolChoice,
} from '../chat-provider.interface';
import { catalogModels, modelInfos } from '../model-catalog';
import { failureForStatus, GenerationAbortedError, UpstreamError } from '../provider.errors';
import { estimateUsage, withCacheUsage } from '../token-counter';
import { openUpstream } from './open-upstream';
import { PerKeyClients } from './per-key-clients';
import { argumentsObject } from './tool-arguments';

export const GEMINI_DEFAULT_BASE_URL = 'https://generativelanguage.googleapis.com';
const DEFAULT_API_VERSION = 'v1beta';

/**
 * Google Gemini through the official `@google/genai` SDK. System messages become the system
 * instruction, `assistant` turns the `model` role; usage comes from `usageMetadata`. The SDK
 * does not retry unless `retryOptions` is given, so the resilience layer stays the one loop.
 */
export class GeminiProvider implements ChatProvider {
  readonly name = 'gemini';
  private readonly clients: PerKeyClients<GoogleGenAI>;
  private readonly baseUrl: string;
  private readonly apiVersion: string;

  /** `baseUrl` may include the API version (`…/v1beta`); the SDK appends it itself. */
  constructor(baseUrl: string | undefined) {
    const match = /^(.*?)\/(v1(?:alpha|beta)?\d*)\/?$/.exec(baseUrl ?? '');
    this.baseUrl = match ? match[1] : (baseUrl ?? GEMINI_DEFAULT_BASE_URL);
    this.apiVersion = match ? match[2] : DEFAULT_API_VERSION;
    this.clients = new PerKeyClients(
      (apiKey) =>
        new GoogleGenAI({
          vertexai: false,
          apiKey: apiKey ?? '',
          httpOptions: {
            baseUrl: this.baseUrl,
            apiVersion: this.apiVersion,
            // Plain global fetch: the SDK's default reaches for undici's global dispatcher
            // through a realm-global symbol, which fails inside VM contexts (jest). Undici's own
            // 300 s header/body timeouts never bind before the resilience layer's timers.
            fetch: (input, init) => fetch(input, init),
          },
        }),
    );
  }

  listModels(): ModelInfo[] {
    return modelInfos(this.name);
  }

  supportsModel(model: string): boolean {
    return catalogModels(this.name).some((entry) => entry.model === model);
  }

  async complete(
    request: ProviderRequest,
    apiKey: string | undefined,
  ): Promise<ProviderCompletion> {
    const response: GenerateContentResponse = await openUpstream(
      request,
      normalizeGeminiError,
      () => this.clients.get(apiKey).models.generateContent(toParameters(request)),
    );
    const text = textOf(response);
    const toolCalls = toolCallsOf(response);
    const finish = response.candidates?.[0]?.finishReason;
    if (!response.candidates?.length && !response.promptFeedback) {
      throw new UpstreamError('malformed', 'gemini: reply without candidates');
    }
    return {
      text,
      model: `${this.name}/${request.model}`,
      usage: toUsage(response, request, text),
      finishReason: response.promptFeedback?.blockReason
        ? 'content_filter'
        : toFinishReason(finish, toolCalls.length > 0),
      ...(toolCalls.length > 0 ? { toolCalls } : {}),
    };
  }

  async *stream(
    request: ProviderRequest,
    apiKey: string | undefined,
  ): AsyncIterable<ProviderStreamEvent> {
    const stream: AsyncGenerator<GenerateContentResponse> = await openUpstream(
      request,
      normalizeGeminiError,
      () => this.clients.get(apiKey).models.generateContentStream(toParameters(request)),
    );

    let text = '';
    let last: GenerateContentResponse | undefined;
    let finish: string | undefined;
    let blocked = false;
    let called = false;
    try {
      for await (const chunk of stream) {
        // Usage arrives with the last chunks; keep the newest report.
        if (chunk.usageMetadata) last = chunk;
        if (chunk.promptFeedback?.blockReason) blocked = true;
        const reason = chunk.candidates?.[0]?.finishReason;
        if (reason) finish = reason;
        const delta = textOf(chunk);
        if (delta) {
          text += delta;
          yield { type: 'delta', text: delta };
        }
        // Gemini streams each function call whole, in one part.
        for (const call of toolCallsOf(chunk)) {
          called = true;
          yield { type: 'tool_call', call };
        }
      }
    } catch (error) {
      throw normalizeGeminiError(error, request.signal);
    }
    if (request.signal?.aborted) throw new GenerationAbortedError();
    if (!finish && !blocked) {
      throw new UpstreamError('network', 'gemini: stream ended without a finish reason');
    }
    yield {
      type: 'done',
      usage: toUsage(last, request, text),
      finishReason: blocked ? 'content_filter' : toFinishReason(finish, called),
    };
  }
}

/** The SDK request for `request`, the same for generateContent and generateContentStream. */
function toParameters(request: ProviderRequest): GenerateContentParameters {
  return { model: request.model, contents: toContents(request), config: toConfig(request) };
}

function toContents(request: ProviderRequest): Content[] {
  const contents: Content[] = [];
  for (const message of request.messages) {
    if (message.role === 'system') continue;
    // Tool results go back in the user's turn, as functionResponse parts.
    const role = message.role === 'assistant' ? 'model' : 'user';
    const previous = contents[contents.length - 1];
    const parts = messageParts(message);
    // Consecutive turns of one role are merged: the API expects alternating roles.
    if (previous?.role === role) previous.parts!.push(...parts);
    else contents.push({ role, parts });
  }
  return contents;
}

/** Gemini's parts of one message: the text, then images and PDFs as `inlineData` (base64). */
export function toGeminiParts(text: string, inputs: BinaryInput[]): Part[] {
  return [
    { text },
    ...inputs.map((input) => ({ inlineData: { mimeType: input.mediaType, data: input.data } })),
  ];
}

/** A message's parts: a tool result, a model turn's text and calls, or text and inputs. */
function messageParts(message: ProviderMessage): Part[] {
  if (message.role === 'tool') {
    return [
      {
        functionResponse: {
          name: message.toolName ?? '',
          response: message.toolError ? { error: message.content } : { output: message.content },
        },
      },
    ];
  }
  if (message.role === 'assistant' && message.toolCalls?.length) {
    return [
      ...(message.content ? [{ text: message.content }] : []),
      ...message.toolCalls.map((call) => ({
        functionCall: { name: call.name, args: argumentsObject(call.arguments) },
      })),
    ];
  }
  return toGeminiParts(message.content, message.inputs ?? []);
}

/**
 * The function calls of the first candidate. Gemini gives them no id (Vertex sometimes does):
 * one is made up so a result can name the call it answers.
 */
function toolCallsOf(response: GenerateContentResponse): ToolCall[] {
  const parts = response.candidates?.[0]?.content?.parts ?? [];
  return parts.flatMap(({ functionCall }) =>
    functionCall?.name
      ? [
          {
            id: functionCall.id || `call_${randomUUID().replace(/-/g, '').slice(0, 24)}`,
            name: functionCall.name,
            arguments: JSON.stringify(functionCall.args ?? {}),
          },
        ]
      : [],
  );
}

function toToolConfig(choice: ToolChoice): ToolConfig {
  if (typeof choice !== 'string') {
    return {
      functionCallingConfig: {
        mode: FunctionCallingConfigMode.ANY,
        allowedFunctionNames: [choice.name],
      },
    };
  }
  const modes = {
    auto: FunctionCallingConfigMode.AUTO,
    none: FunctionCallingConfigMode.NONE,
    required: FunctionCallingConfigMode.ANY,
  };
  return { functionCallingConfig: { mode: modes[choice] } };
}

function toConfig(request: ProviderRequest): GenerateContentConfig {
  const system = request.messages
    .filter((message) => message.role === 'system')
    .map((message) => message.content)
    .join('\n\n');
  const config: GenerateContentConfig = { abortSignal: request.signal };
  if (system) config.systemInstruction = system;
  if (request.temperature !== undefined) config.temperature = request.temperature;
  if (request.maxTokens !== undefined) config.maxOutputTokens = request.maxTokens;
  if (request.tools?.length) {
    config.tools = [
      {
        functionDeclarations: request.tools.map((tool) => ({
          name: tool.name,
          ...(tool.description ? { description: tool.description } : {}),
          parametersJsonSchema: tool.parameters,
        })),
      },
    ];
    if (request.toolChoice) config.toolConfig = toToolConfig(request.toolChoice);
  }
  return config;
}

/** Text parts of the first candidate, without thoughts (the SDK's `.text` warns on other parts). */
function textOf(response: GenerateContentResponse): string {
  const parts = response.candidates?.[0]?.content?.parts ?? [];
  return parts
    .filter((part) => typeof part.text === 'string' && !part.thought)
    .map((part) => part.text)
    .join('');
}

function toUsage(
  response: GenerateContentResponse | undefined,
  request: ProviderRequest,
  text: string,
): TokenUsage {
  const meta = response?.usageMetadata;
  if (meta && typeof meta.promptTokenCount === 'number') {
    const completionTokens = (meta.candidatesTokenCount ?? 0) + (meta.thoughtsTokenCount ?? 0);
    return withCacheUsage(
      {
        promptTokens: meta.promptTokenCount,
        completionTokens,
        totalTokens: meta.totalTokenCount ?? meta.promptTokenCount + completionTokens,
      },
      // Gemini's implicit caching (2.5 models) reports its hits here.
      meta.cachedContentTokenCount,
    );
  }
  return estimateUsage(request.messages, text);
}

const FINISH_REASONS: Readonly<Record<string, FinishReason>> = {
  MAX_TOKENS: 'length',
  SAFETY: 'content_filter',
  RECITATION: 'content_filter',
  BLOCKLIST: 'content_filter',
  PROHIBITED_CONTENT: 'content_filter',
  SPII: 'content_filter',
  IMAGE_SAFETY: 'content_filter',
};

/** Gemini ends a turn of function calls with `STOP`: the calls make it `tool_calls`. */
function toFinishReason(reason: string | undefined, called = false): FinishReason {
  if (called && (!reason || reason === 'STOP')) return 'tool_calls';
  return (reason && FINISH_REASONS[reason]) || 'stop';
}

/** Maps what the SDK threw to an UpstreamError or an abort. */
export function normalizeGeminiError(error: unknown, signal: AbortSignal | undefined): Error {
  if (signal?.aborted) return new GenerationAbortedError();
  if (error instanceof UpstreamError || error instanceof GenerationAbortedError) return error;
  if (error instanceof ApiError) {
    return new UpstreamError(failureForStatus(error.status), error.message, {
      status: error.status,
      retryAfterMs: retryDelayOf(error.message),
      cause: error,
    });
  }
  const message = error instanceof Error ? error.message : String(error);
  if (
    error instanceof SyntaxError ||
    /exception parsing stream chunk|Incomplete JSON segment/.test(message)
  ) {
    return new UpstreamError('malformed', message, { cause: error });
  }
  return new UpstreamError('network', message, { cause: error });
}

/** Gemini's 429 carries `RetryInfo.retryDelay` ("12s") in the error body the SDK quotes. */
function retryDelayOf(message: string): number | undefined {
  const match = /"retryDelay"\s*:\s*"(\d+(?:\.\d+)?)s"/.exec(message);
  return match ? Math.round(Number(match[1]) * 1000) : undefined;
}
