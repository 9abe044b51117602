import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import { DomainError } from '@app/common';
import { AppConfig } from '@app/config';
import { mapToolCall } from '../../history/dto/history-response.dto';
import type {
  MessagePatch,
  MessageStatus,
  StoredToolCall,
} from '../../history/history-store.interface';
import { HistoryService } from '../../history/history.service';
import type {
  FinishReason,
  TokenUsage,
  ToolDefinition,
} from '../../providers/chat-provider.interface';
import { GenerationAbortedError } from '../../providers/provider.errors';
import { ProvidersService } from '../../providers/providers.service';
import { QuotaService } from '../../providers/quota.service';
import { countMessagesTokens, countTokens } from '../../providers/token-counter';
import { ServerToolRegistry } from '../../tools/server-tool-registry';
import { BudgetService, type BudgetReservation } from '../../usage/budget/budget.service';
import { PriceCatalog } from '../../usage/price-catalog';
import {
  usagePayload,
  type ChatEvent,
  type FinishReasonPayload,
  type UsagePayload,
} from '../chat-events';
import type { ChatEventListener } from '../chat-turn';
import { finalEvent, ReplyFailedError, toStoredResult, type TurnOutcome } from '../chat-turn';
import { toolRoundMessages } from '../context-builder';
import { GenerationRegistry } from '../generation-registry';
import { GenerationEventLog } from '../generations/generation-event-log';
import { GenerationRecorder } from '../generations/generation-recorder';
import { PendingReplyKeys } from '../generations/pending-reply-keys';
import { IDEMPOTENCY_STORE, IdempotencyStore } from '../idempotency/idempotency-store';
import type { PreparedTurn } from './chat-turn-preflight';
import { ReplyCheckpointWriter } from './reply-checkpoint-writer';
import { ReplyWriteRetrier } from './reply-write-retrier';
import { SessionTitleService } from './session-title.service';

/** One model call of a turn (a turn with server-side tools makes several). */
interface ModelRound {
  /** The model that answered (after a fallback, not the one asked). */
  model: string;
  /** Prompt tokens of the call as counted locally (the estimate when the provider reports none). */
  promptTokens: number;
  /** The text this call streamed. */
  text: string;
  /** The provider's report as it came (cached tokens, its own charge); absent when it ended early. */
  reported?: TokenUsage;
}

/** What came back from the provider: the text so far and how the stream ended. */
interface StreamedReply {
  /** The text of every round, in order. */
  text: string;
  /** The model that answered last. */
  model: string;
  rounds: ModelRound[];
  /** Every tool call of the turn, server-side ones with their results. */
  toolCalls: StoredToolCall[];
  finishReason: FinishReason;
  aborted: boolean;
  failure?: DomainError;
  /** The spend reserved before each model call after the first (server-side tool rounds). */
  laterRoundBudgets: BudgetReservation[];
}

/**
 * The second stage of a chat turn: streams the reply of a prepared turn as events — each one
 * numbered and kept in the GenerationEventLog for resumes, the text so far checkpointed to the
 * history store by the ReplyCheckpointWriter (every CHAT__CHECKPOINT_MS, in one batch with the
 * other streaming replies) — then always ends it: stores the reply (`complete`, or
 * `error`/`aborted` with the partial text), charges the tokens, remembers the outcome for the
 * Idempotency-Key, frees the session and, after a first exchange, starts the generated title.
 */
@Injectable()
export class ChatTurnRunner {
  private readonly logger = new Logger(ChatTurnRunner.name);

  constructor(
    private readonly history: HistoryService,
    private readonly providers: ProvidersService,
    private readonly quota: QuotaService,
    private readonly titles: SessionTitleService,
    @Inject(IDEMPOTENCY_STORE) private readonly idempotency: IdempotencyStore,
    private readonly registry: GenerationRegistry,
    private readonly config: AppConfig,
    private readonly events: GenerationEventLog,
    private readonly writes: ReplyWriteRetrier,
    private readonly checkpoints: ReplyCheckpointWriter,
    @Optional() private readonly budgets?: BudgetService,
    @Optional() private readonly prices?: PriceCatalog,
    @Optional() private readonly serverTools?: ServerToolRegistry,
    @Optional() private readonly replyKeys?: PendingReplyKeys,
  ) {}

  /** Runs the turn to its end; never rejects (a failed reply is the outcome's `failure`). */
  async run(turn: PreparedTurn, listener: ChatEventListener): Promise<TurnOutcome> {
    const recorder = new GenerationRecorder(this.events, turn.messageId);
    await recorder.open({ userId: turn.userId, sessionId: turn.sessionId });
    const emit = (event: ChatEvent) => listener(event, recorder.record(event));
    emit({
      type: 'start',
      session_id: turn.sessionId,
      message_id: turn.messageId,
      model: turn.model,
    });
    const streamed = await this.stream(turn, emit);
    const status: MessageStatus = streamed.aborted
      ? 'aborted'
      : streamed.failure
        ? 'error'
        : 'complete';
    // Without provider usage (abort, failure) the local estimate is stored and charged.
    const usage = turnUsage(streamed.rounds);
    const outcome: TurnOutcome = {
      session_id: turn.sessionId,
      message_id: turn.messageId,
      reply: streamed.text,
      model: streamed.model,
      usage,
      finish_reason: finishReasonOf(streamed),
      ...(streamed.toolCalls.length ? { tool_calls: streamed.toolCalls.map(mapToolCall) } : {}),
      created_at: turn.createdAt.toISOString(),
      ...(streamed.failure ? { failure: streamed.failure } : {}),
    };
    const stored = await this.storeReply(turn, outcome, status, streamed.toolCalls);
    await this.recordUsage(turn, status === 'complete' || streamed.text ? usage.tokens : undefined);
    // The first reservation carries the cost of every round; the later ones are given back.
    await this.budgets?.settle(turn.budget, this.costOf(streamed.rounds));
    for (const later of streamed.laterRoundBudgets) await this.budgets?.settle(later, 0);
    await this.rememberOutcome(turn, outcome, recorder.nextSeq);
    this.registry.unregister(turn.sessionId, turn.controller);
    // An unstored reply keeps its session lock until the retrier has stored it.
    if (stored) await turn.lock.release();

    emit(finalEvent(outcome));
    await recorder.flushed();
    if (turn.firstExchange && status === 'complete') {
      this.titles.generateInBackground({
        userId: turn.userId,
        sessionId: turn.sessionId,
        model: outcome.model,
        message: turn.input.message,
        reply: outcome.reply,
      });
    }
    return outcome;
  }

  /** The client of `turn` went away (see GenerationRegistry.leave for the resume window). */
  leave(turn: PreparedTurn): void {
    this.registry.leave(turn.controller);
  }

  /**
   * Calls the model, streaming its text and tool calls. When it calls only server-side tools,
   * runs them and calls it again with the results, within TOOLS__MAX_ROUNDS calls; a round with
   * client calls ends the turn (`tool_calls`), the server-side calls of it already answered.
   */
  private async stream(
    turn: PreparedTurn,
    emit: (event: ChatEvent) => void,
  ): Promise<StreamedReply> {
    const signal = turn.controller.signal;
    const checkpoints = this.checkpoints.open(turn.sessionId, turn.messageId);
    const reply: StreamedReply = {
      text: '',
      model: turn.model,
      rounds: [],
      toolCalls: [],
      finishReason: 'stop',
      aborted: false,
      laterRoundBudgets: [],
    };
    let messages = turn.messages;
    try {
      for (let round = 0; ; round++) {
        const current: ModelRound = {
          model: reply.model,
          promptTokens: round === 0 ? turn.promptTokens : countMessagesTokens(messages),
          text: '',
        };
        if (round > 0) await this.reserveRound(turn, current, reply);
        reply.rounds.push(current);
        const calls: StoredToolCall[] = [];
        const events = this.providers.stream({
          model: turn.model,
          messages,
          tools: this.toolsOfRound(turn, round),
          temperature: turn.input.temperature,
          maxTokens: turn.input.maxTokens,
          signal,
          userId: turn.userId,
          apiKeyId: turn.apiKeyId,
          sessionId: turn.sessionId,
          messageId: turn.messageId,
        });
        for await (const event of events) {
          if (event.type === 'start') {
            reply.model = current.model = event.model;
          } else if (event.type === 'delta') {
            if (!event.text) continue;
            reply.text += event.text;
            current.text += event.text;
            emit({ type: 'delta', text: event.text });
            checkpoints.offer(reply.text);
          } else if (event.type === 'tool_call') {
            const { id, name, arguments: args } = event.call;
            const executedBy = this.serverTools?.has(name) ? 'server' : 'client';
            calls.push({ id, name, arguments: args, executedBy, round, result: null });
            emit({ type: 'tool_call', message_id: turn.messageId, id, name, arguments: args });
          } else if (event.type === 'done') {
            reply.model = current.model = event.model;
            reply.finishReason = event.finishReason;
            current.reported = event.usage;
          }
          if (signal.aborted) break;
        }
        reply.toolCalls.push(...calls);
        if (signal.aborted || !calls.length) break;
        reply.finishReason = 'tool_calls';
        await this.runServerCalls(turn, calls, signal, emit);
        const clientWaits = calls.some((call) => call.executedBy === 'client');
        if (signal.aborted || clientWaits || round + 1 >= this.config.tools.maxRounds) break;
        messages = [...messages, ...toolRoundMessages(current.text, calls)];
      }
      reply.aborted = signal.aborted;
    } catch (error) {
      if (signal.aborted || error instanceof GenerationAbortedError) {
        reply.aborted = true;
      } else if (error instanceof DomainError) {
        reply.failure = error;
      } else {
        this.logger.error({ err: error, sessionId: turn.sessionId }, 'Chat generation failed');
        reply.failure = new ReplyFailedError('internal', 'Internal server error');
      }
    }
    // A checkpoint still in flight must not overwrite the final reply.
    await checkpoints.close();
    return reply;
  }

  /**
   * Reserves the most the next model call of a turn can cost, as the preflight did for the first
   * one: a budget that cannot take it ends the turn (BudgetExceededError) before the call.
   */
  private async reserveRound(
    turn: PreparedTurn,
    round: ModelRound,
    reply: StreamedReply,
  ): Promise<void> {
    const reservation = await this.budgets?.reserve(
      turn.userId,
      round.model,
      round.promptTokens,
      turn.input.maxTokens ?? this.config.chat.replyTokenBudget,
    );
    if (reservation) reply.laterRoundBudgets.push(reservation);
  }

  /**
   * The tools a model call offers: the client's and the enabled server-side ones; server-side
   * ones not when no call may follow (TOOLS__MAX_ROUNDS), and none at all on the last allowed
   * call after server-side rounds.
   */
  private toolsOfRound(turn: PreparedTurn, round: number): ToolDefinition[] | undefined {
    const lastRound = round >= this.config.tools.maxRounds - 1;
    if (lastRound && round > 0) return undefined;
    const tools = [
      ...(turn.input.tools ?? []),
      ...(lastRound ? [] : (this.serverTools?.definitions() ?? [])),
    ];
    return tools.length ? tools : undefined;
  }

  /** Runs the server-side calls of a round in order, each answered by a `tool_result` event. */
  private async runServerCalls(
    turn: PreparedTurn,
    calls: StoredToolCall[],
    signal: AbortSignal,
    emit: (event: ChatEvent) => void,
  ): Promise<void> {
    for (const call of calls) {
      if (call.executedBy !== 'server' || !this.serverTools || signal.aborted) continue;
      call.result = await this.serverTools.run(call, signal);
      emit({
        type: 'tool_result',
        message_id: turn.messageId,
        tool_call_id: call.id,
        name: call.name,
        content: call.result.content,
        is_error: call.result.isError,
      });
    }
  }

  /**
   * Completes the pending reply. When the store fails (outage) the write goes to the retrier with
   * the session lock, and false is returned; the client still gets its answer.
   */
  private async storeReply(
    turn: PreparedTurn,
    outcome: TurnOutcome,
    status: MessageStatus,
    toolCalls: StoredToolCall[],
  ): Promise<boolean> {
    const patch: MessagePatch = {
      content: outcome.reply,
      status,
      model: outcome.model,
      promptTokens: outcome.usage.prompt_tokens,
      completionTokens: outcome.usage.completion_tokens,
      error: outcome.failure?.message ?? null,
      ...(toolCalls.length ? { toolCalls } : {}),
    };
    try {
      await this.history.finishReply(turn.sessionId, turn.messageId, patch);
      return true;
    } catch (error) {
      this.logger.error(
        { err: error, sessionId: turn.sessionId, messageId: turn.messageId },
        'Could not store the assistant reply',
      );
      this.writes.retry({
        sessionId: turn.sessionId,
        messageId: turn.messageId,
        patch,
        lock: turn.lock,
      });
      return false;
    }
  }

  /**
   * What the turn cost in micro-dollars, for its budget: every model call's cost (see
   * PriceCatalog.replyCostMicros); null when a model has no price.
   */
  private costOf(rounds: ModelRound[]): number | null {
    const prices = this.prices;
    if (!prices) return null;
    let total = 0;
    for (const round of rounds) {
      const usage = roundUsage(round);
      const estimated = round.text
        ? {
            promptTokens: usage.prompt_tokens,
            completionTokens: usage.completion_tokens,
            totalTokens: usage.tokens,
          }
        : undefined;
      const cost = prices.replyCostMicros(round.model, round.reported, estimated);
      if (cost === null) return null;
      total += cost;
    }
    return total;
  }

  private async recordUsage(turn: PreparedTurn, tokens: number | undefined): Promise<void> {
    const { userId, apiKeyId } = turn;
    if (tokens !== undefined) {
      await this.quota
        .recordUsage(userId, tokens, apiKeyId)
        .catch((error: unknown) =>
          this.logger.warn({ err: error, userId }, 'Could not record token usage'),
        );
    }
    // Charged (or nothing to charge): the sweeper must not charge the key again after a crash.
    if (apiKeyId) {
      await this.replyKeys
        ?.forget(turn.messageId)
        .catch((error: unknown) =>
          this.logger.warn({ err: error, userId }, 'Could not forget the API key of a reply'),
        );
    }
  }

  private async rememberOutcome(
    turn: PreparedTurn,
    outcome: TurnOutcome,
    finalSeq: number,
  ): Promise<void> {
    if (!turn.idempotency) return;
    const { key, fingerprint } = turn.idempotency;
    await this.idempotency
      .complete(
        key,
        fingerprint,
        toStoredResult(outcome, finalSeq),
        this.config.chat.idempotencyTtlSeconds,
      )
      .catch((error: unknown) =>
        this.logger.warn({ err: error }, 'Could not store an idempotent result'),
      );
  }
}

function finishReasonOf(reply: StreamedReply): FinishReasonPayload {
  if (reply.aborted) return 'aborted';
  return reply.failure ? 'error' : reply.finishReason;
}

/** A model call's usage: the provider's report, else the local estimate. */
function roundUsage(round: ModelRound): UsagePayload {
  return round.reported
    ? usagePayload(round.reported)
    : estimateUsage(round.promptTokens, round.text);
}

/** A turn's usage: the sum over its model calls (one, unless server-side tools ran). */
function turnUsage(rounds: ModelRound[]): UsagePayload {
  const [first, ...rest] = rounds.map(roundUsage);
  return rest.reduce((sum, usage) => {
    const total: UsagePayload = {
      prompt_tokens: sum.prompt_tokens + usage.prompt_tokens,
      completion_tokens: sum.completion_tokens + usage.completion_tokens,
      tokens: sum.tokens + usage.tokens,
    };
    const cacheRead = (sum.cache_read_tokens ?? 0) + (usage.cache_read_tokens ?? 0);
    const cacheWrite = (sum.cache_write_tokens ?? 0) + (usage.cache_write_tokens ?? 0);
    if (cacheRead) total.cache_read_tokens = cacheRead;
    if (cacheWrite) total.cache_write_tokens = cacheWrite;
    return total;
  }, first);
}

function estimateUsage(promptTokens: number, text: string): UsagePayload {
  const completion = text ? countTokens(text) : 0;
  return {
    prompt_tokens: promptTokens,
    completion_tokens: completion,
    tokens: promptTokens + completion,
  };
}
