import { randomUUID } from 'node:crypto';
import { Injectable, Logger } from '@nestjs/common';
import { codePointLength, DomainError, InvalidInputError } from '@app/common';
import type { ApiKeyQuota } from '../auth/auth-user';
import { ChatService } from '../chat/chat.service';
import { ReplyFailedError, type ChatTurn } from '../chat/chat-turn';
import { MAX_SYSTEM_PROMPT_CHARS } from '../chat/dto/chat-request.dto';
import type { ToolResultInput } from '../chat/tool-input';
import type { FinishReason, ProviderMessage, ToolCall } from '../providers/chat-provider.interface';
import { GenerationAbortedError } from '../providers/provider.errors';
import { ProvidersService, type ResolvedModel } from '../providers/providers.service';
import { QuotaService } from '../providers/quota.service';
import { countMessagesTokens, countTokens } from '../providers/token-counter';
import type { TokenUsage } from '../providers/chat-provider.interface';
import { BudgetService, type BudgetReservation } from '../usage/budget/budget.service';
import { PriceCatalog } from '../usage/price-catalog';
import { AppConfig } from '@app/config';
import type { CompletionInput } from './completion-input';
import { ContextLengthExceededError, ModelNotFoundError } from './openai-errors';
import { StopSequenceScanner } from './stop-sequence-scanner';

/** Token counts in OpenAI's names. */
export interface CompletionUsage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  /** OpenAI's place for prompt cache hits; only when the provider reported some. */
  prompt_tokens_details?: { cached_tokens: number };
}

/** Usage in OpenAI's names; `cacheRead` tokens go to `prompt_tokens_details.cached_tokens`. */
function completionUsage(
  prompt: number,
  completion: number,
  total: number,
  cacheRead: number | undefined,
): CompletionUsage {
  return {
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: total,
    ...(cacheRead ? { prompt_tokens_details: { cached_tokens: cacheRead } } : {}),
  };
}

/** How a completion ended; `failure` is set when the provider failed (mapped by the transport). */
export interface CompletionResult {
  text: string;
  /** The model that answered (after a fallback). */
  model: string;
  usage: CompletionUsage;
  finishReason: FinishReason;
  /** The calls the model made (finishReason `tool_calls`), in order. */
  toolCalls?: ToolCall[];
  failure?: DomainError;
}

/** A checked request, ready to run: every client error (400, 404, 409, 429) is already raised. */
export interface CompletionRun {
  /** The model the request was routed to. */
  readonly model: string;
  /** The history session the exchange is stored in; undefined when stateless. */
  readonly sessionId?: string;
  /**
   * Streams the reply text to `onText` and each whole tool call to `onToolCall` (with its index
   * in the reply), and resolves when it ends; never rejects.
   */
  run(
    onText: (text: string) => void,
    onToolCall?: (call: ToolCall, index: number) => void,
  ): Promise<CompletionResult>;
  /** Stops the generation (the client went away). */
  abort(): void;
}

/**
 * `/v1/chat/completions`. Stateless by default: the request's messages are the whole prompt and
 * nothing is stored, with the same quota, fallbacks, key rotation and circuit breaker as
 * `/api/chat` (ProvidersService). With a session (`X-Session-Id`, or `store: true` for a new one)
 * the exchange is a `/api/chat` turn (ChatService): its last user message is the new message, its
 * system messages the system prompt, and the stored session is the context.
 */
@Injectable()
export class ChatCompletionsService {
  private readonly logger = new Logger(ChatCompletionsService.name);

  constructor(
    private readonly providers: ProvidersService,
    private readonly quota: QuotaService,
    private readonly chat: ChatService,
    private readonly config: AppConfig,
    private readonly budgets: BudgetService,
    private readonly prices: PriceCatalog,
  ) {}

  /** `apiKey`: the personal API key of the request, whose own daily token quota applies too. */
  async begin(
    userId: string,
    input: CompletionInput,
    sessionId: string | undefined,
    apiKey?: ApiKeyQuota,
  ): Promise<CompletionRun> {
    const model = this.resolveModel(input.model);
    if (sessionId !== undefined || input.store) {
      return this.beginStored(userId, input, model, sessionId ?? null, apiKey);
    }
    const promptTokens = countMessagesTokens(input.messages);
    const room = model.contextWindow - (input.maxTokens ?? 0);
    if (promptTokens > room) {
      throw new ContextLengthExceededError(
        `The messages (about ${promptTokens} tokens) do not fit the context window of ${model.id} ` +
          `(${model.contextWindow} tokens${input.maxTokens ? `, ${input.maxTokens} kept for the reply` : ''})`,
      );
    }
    await this.quota.assertWithinQuota(userId, apiKey);
    const budget = await this.budgets.reserve(
      userId,
      model.id,
      promptTokens,
      input.maxTokens ?? this.config.chat.replyTokenBudget,
    );
    await this.budgets.holdLeased(budget, `v1:${randomUUID()}`);
    return new StatelessCompletion(
      { providers: this.providers, quota: this.quota, budgets: this.budgets, prices: this.prices },
      this.logger,
      { userId, apiKeyId: apiKey?.id, budget },
      model,
      input,
      promptTokens,
    );
  }

  /** The model the SDKs named, or 404 `model_not_found` (as OpenAI answers). */
  private resolveModel(id: string): ResolvedModel {
    try {
      return this.providers.resolveModel(id);
    } catch (error) {
      if (error instanceof InvalidInputError) throw new ModelNotFoundError(error.message);
      throw error;
    }
  }

  private async beginStored(
    userId: string,
    input: CompletionInput,
    model: ResolvedModel,
    sessionId: string | null,
    apiKey: ApiKeyQuota | undefined,
  ): Promise<CompletionRun> {
    if (input.stops.length) {
      throw new InvalidInputError('stop cannot be used when the exchange is stored', [
        { field: 'stop', message: 'stop cannot be used when the exchange is stored' },
      ]);
    }
    if (input.toolChoice !== undefined && input.toolChoice !== 'auto') {
      throw new InvalidInputError('tool_choice cannot be used when the exchange is stored', [
        { field: 'tool_choice', message: 'only "auto" when the exchange is stored' },
      ]);
    }
    const toolResults = trailingToolResults(input.messages);
    const last = input.messages[input.messages.length - 1];
    if (toolResults.length > 0 && sessionId === null) {
      throw new InvalidInputError(
        'tool results continue a stored session: send its id in X-Session-Id',
        [{ field: 'messages', message: 'tool messages need X-Session-Id' }],
      );
    }
    if (toolResults.length === 0 && (last.role !== 'user' || !/\S/.test(last.content))) {
      throw new InvalidInputError(
        "the last message must be a non-blank user message when the exchange is stored (or tool messages with the results of its reply's calls)",
        [{ field: 'messages', message: 'the last message must be a non-blank user message' }],
      );
    }
    const systemPrompt = systemPromptOf(input.messages);
    if (systemPrompt && codePointLength(systemPrompt) > MAX_SYSTEM_PROMPT_CHARS) {
      throw new InvalidInputError(
        `system messages must be at most ${MAX_SYSTEM_PROMPT_CHARS} characters when the exchange is stored`,
        [
          {
            field: 'messages',
            message: `system messages exceed ${MAX_SYSTEM_PROMPT_CHARS} characters`,
          },
        ],
      );
    }
    const turn = await this.chat.begin(
      userId,
      {
        message: toolResults.length ? '' : last.content,
        sessionId,
        model: model.id,
        systemPrompt,
        temperature: input.temperature,
        maxTokens: input.maxTokens,
        tools: input.tools,
        toolResults: toolResults.length ? toolResults : undefined,
      },
      { apiKey },
    );
    return new StoredCompletion(turn);
  }
}

/** The `tool` messages that end the request: the client's results for the stored reply's calls. */
function trailingToolResults(messages: ProviderMessage[]): ToolResultInput[] {
  let first = messages.length;
  while (first > 0 && messages[first - 1].role === 'tool') first--;
  return messages.slice(first).map((message) => ({
    toolCallId: message.toolCallId ?? '',
    content: message.content,
    isError: message.toolError === true,
  }));
}

function systemPromptOf(messages: ProviderMessage[]): string | undefined {
  const system = messages.filter((m) => m.role === 'system').map((m) => m.content);
  return system.length ? system.join('\n\n') : undefined;
}

/** A completion whose prompt is the request itself and which stores nothing. */
class StatelessCompletion implements CompletionRun {
  private readonly controller = new AbortController();

  constructor(
    private readonly services: {
      providers: ProvidersService;
      quota: QuotaService;
      budgets: BudgetService;
      prices: PriceCatalog;
    },
    private readonly logger: Logger,
    private readonly caller: { userId: string; apiKeyId?: string; budget?: BudgetReservation },
    private readonly resolved: ResolvedModel,
    private readonly input: CompletionInput,
    private readonly promptTokens: number,
  ) {}

  get model(): string {
    return this.resolved.id;
  }

  async run(
    onText: (text: string) => void,
    onToolCall: (call: ToolCall, index: number) => void = () => undefined,
  ): Promise<CompletionResult> {
    const scanner = new StopSequenceScanner(this.input.stops);
    const result: CompletionResult = {
      text: '',
      model: this.resolved.id,
      usage: { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 },
      finishReason: 'stop',
    };
    const emit = (text: string) => {
      if (!text) return;
      result.text += text;
      try {
        onText(text);
      } catch {
        // A client that cannot take more text must not stop the usage from being recorded.
      }
    };
    const toolCalls: ToolCall[] = [];
    let reported: CompletionUsage | undefined;
    let providerUsage: TokenUsage | undefined;
    try {
      const events = this.services.providers.stream({
        model: this.resolved.id,
        messages: this.input.messages,
        temperature: this.input.temperature,
        maxTokens: this.input.maxTokens,
        tools: this.input.tools,
        toolChoice: this.input.toolChoice,
        signal: this.controller.signal,
        userId: this.caller.userId,
        apiKeyId: this.caller.apiKeyId,
      });
      for await (const event of events) {
        if (event.type === 'start') {
          result.model = event.model;
        } else if (event.type === 'delta') {
          emit(scanner.push(event.text));
          // Leaving the loop closes the upstream stream: the rest of the reply is not wanted.
          if (scanner.stopped || this.controller.signal.aborted) break;
        } else if (event.type === 'tool_call') {
          toolCalls.push(event.call);
          try {
            onToolCall(event.call, toolCalls.length - 1);
          } catch {
            // As for text: the usage is still recorded.
          }
        } else if (event.type === 'done') {
          result.model = event.model;
          result.finishReason = event.finishReason;
          providerUsage = event.usage;
          reported = completionUsage(
            event.usage.promptTokens,
            event.usage.completionTokens,
            event.usage.totalTokens,
            event.usage.cacheReadTokens,
          );
        }
      }
      emit(scanner.flush());
      if (scanner.stopped) result.finishReason = 'stop';
      if (this.controller.signal.aborted) result.finishReason = 'aborted';
      if (toolCalls.length > 0) result.toolCalls = toolCalls;
    } catch (error) {
      if (this.controller.signal.aborted || error instanceof GenerationAbortedError) {
        result.finishReason = 'aborted';
      } else if (error instanceof DomainError) {
        result.failure = error;
        result.finishReason = 'error';
      } else {
        this.logger.error({ err: error }, 'Completion failed');
        result.failure = new ReplyFailedError('internal', 'Internal server error');
        result.finishReason = 'error';
      }
    }
    // After a stop sequence or an abort, the provider's own count (if any) is not what was sent.
    const completion = countTokens(result.text);
    result.usage =
      reported && !scanner.stopped && result.finishReason !== 'aborted'
        ? reported
        : {
            prompt_tokens: this.promptTokens,
            completion_tokens: completion,
            total_tokens: this.promptTokens + completion,
          };
    if (!result.failure || result.text) {
      await this.services.quota.recordUsage(
        this.caller.userId,
        result.usage.total_tokens,
        this.caller.apiKeyId,
      );
    }
    const estimated = result.text
      ? {
          promptTokens: result.usage.prompt_tokens,
          completionTokens: result.usage.completion_tokens,
          totalTokens: result.usage.total_tokens,
        }
      : undefined;
    await this.services.budgets.settle(
      this.caller.budget,
      this.services.prices.replyCostMicros(result.model, providerUsage, estimated),
    );
    return result;
  }

  abort(): void {
    if (!this.controller.signal.aborted) this.controller.abort('client_disconnected');
  }
}

/** A completion run as a `/api/chat` turn: stored, titled, one generation per session. */
class StoredCompletion implements CompletionRun {
  constructor(private readonly turn: ChatTurn) {}

  get model(): string {
    return this.turn.model;
  }

  get sessionId(): string {
    return this.turn.sessionId;
  }

  async run(
    onText: (text: string) => void,
    onToolCall: (call: ToolCall, index: number) => void = () => undefined,
  ): Promise<CompletionResult> {
    const calls: ToolCall[] = [];
    const runByServer = new Set<string>();
    const outcome = await this.turn.run((event) => {
      if (event.type === 'delta') onText(event.text);
      else if (event.type === 'tool_call') {
        calls.push({ id: event.id, name: event.name, arguments: event.arguments });
      } else if (event.type === 'tool_result') runByServer.add(event.tool_call_id);
    });
    // A deployment's server-side tools ran within the turn; the client answers only the rest.
    const toolCalls = calls.filter((call) => !runByServer.has(call.id));
    toolCalls.forEach((call, index) => onToolCall(call, index));
    return {
      text: outcome.reply,
      model: outcome.model,
      usage: completionUsage(
        outcome.usage.prompt_tokens,
        outcome.usage.completion_tokens,
        outcome.usage.tokens,
        outcome.usage.cache_read_tokens,
      ),
      finishReason: outcome.finish_reason,
      ...(toolCalls.length ? { toolCalls } : {}),
      failure: outcome.failure,
    };
  }

  abort(): void {
    // A stored exchange is a chat turn like any other: its client leaving starts the resume
    // window (CHAT__RESUME_WINDOW_MS; 0 stops it at once), and GET /api/chat/stream/{id} resumes it.
    this.turn.leave();
  }
}
