import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import { DomainError } from '@app/common';
import { AppConfig } from '@app/config';
import type { MessageStatus } from '../../history/history-store.interface';
import { HistoryService } from '../../history/history.service';
import type { FinishReason, TokenUsage } from '../../providers/chat-provider.interface';
import { GenerationAbortedError } from '../../providers/provider.errors';
import { ProvidersService } from '../../providers/providers.service';
import { QuotaService } from '../../providers/quota.service';
import { countTokens } from '../../providers/token-counter';
import { BudgetService } from '../../usage/budget/budget.service';
import { PriceCatalog } from '../../usage/price-catalog';
import {
  usagePayload,
  type ChatEvent,
  type FinishReasonPayload,
  type UsagePayload,
} from '../chat-events';
import type { ChatEventListener } from '../chat-turn';
import { finalEvent, ReplyFailedError, toStoredResult, type TurnOutcome } from '../chat-turn';
import { GenerationRegistry } from '../generation-registry';
import { GenerationEventLog } from '../generations/generation-event-log';
import { GenerationRecorder } from '../generations/generation-recorder';
import { PendingReplyKeys } from '../generations/pending-reply-keys';
import { IDEMPOTENCY_STORE, IdempotencyStore } from '../idempotency/idempotency-store';
import type { PreparedTurn } from './chat-turn-preflight';
import { ReplyWriteRetrier } from './reply-write-retrier';
import { SessionTitleService } from './session-title.service';

/** What came back from the provider: the text so far and how the stream ended. */
interface StreamedReply {
  text: string;
  /** The model that answered (after a fallback, not the one asked). */
  model: string;
  usage?: UsagePayload;
  /** The provider's report as it came (cached tokens, its own charge). */
  providerUsage?: TokenUsage;
  finishReason: FinishReason;
  aborted: boolean;
  failure?: DomainError;
}

/**
 * The second stage of a chat turn: streams the reply of a prepared turn as events — each one
 * numbered and kept in the GenerationEventLog for resumes, the text so far checkpointed to the
 * history store at most every CHAT__CHECKPOINT_MS — then always ends it: stores the reply (`complete`, or `error`/`aborted` with the partial text), charges the
 * tokens, remembers the outcome for the Idempotency-Key, frees the session and, after a first
 * exchange, starts the generated title.
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
    @Optional() private readonly budgets?: BudgetService,
    @Optional() private readonly prices?: PriceCatalog,
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
    const usage = streamed.usage ?? estimateUsage(turn.promptTokens, streamed.text);
    const outcome: TurnOutcome = {
      session_id: turn.sessionId,
      message_id: turn.messageId,
      reply: streamed.text,
      model: streamed.model,
      usage,
      finish_reason: finishReasonOf(streamed),
      created_at: turn.createdAt.toISOString(),
      ...(streamed.failure ? { failure: streamed.failure } : {}),
    };
    const stored = await this.storeReply(turn, outcome, status);
    await this.recordUsage(turn, status === 'complete' || streamed.text ? usage.tokens : undefined);
    await this.budgets?.settle(turn.budget, this.costOf(streamed, usage));
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

  private async stream(
    turn: PreparedTurn,
    emit: (event: ChatEvent) => void,
  ): Promise<StreamedReply> {
    const signal = turn.controller.signal;
    const checkpoints = new ReplyCheckpoints(
      (text) => this.history.checkpointReply(turn.sessionId, turn.messageId, text),
      this.config.chat.checkpointMs,
      (error) =>
        this.logger.warn({ err: error, messageId: turn.messageId }, 'Could not checkpoint a reply'),
    );
    const reply: StreamedReply = {
      text: '',
      model: turn.model,
      finishReason: 'stop',
      aborted: false,
    };
    try {
      const events = this.providers.stream({
        model: turn.model,
        messages: turn.messages,
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
          reply.model = event.model;
        } else if (event.type === 'delta') {
          if (!event.text) continue;
          reply.text += event.text;
          emit({ type: 'delta', text: event.text });
          checkpoints.offer(reply.text);
        } else {
          reply.model = event.model;
          reply.finishReason = event.finishReason;
          reply.providerUsage = event.usage;
          reply.usage = usagePayload(event.usage);
        }
        if (signal.aborted) break;
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
    await checkpoints.settled();
    return reply;
  }

  /**
   * Completes the pending reply. When the store fails (outage) the write goes to the retrier with
   * the session lock, and false is returned; the client still gets its answer.
   */
  private async storeReply(
    turn: PreparedTurn,
    outcome: TurnOutcome,
    status: MessageStatus,
  ): Promise<boolean> {
    const patch = {
      content: outcome.reply,
      status,
      model: outcome.model,
      promptTokens: outcome.usage.prompt_tokens,
      completionTokens: outcome.usage.completion_tokens,
      error: outcome.failure?.message ?? null,
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

  /** What the turn cost in micro-dollars, for its budget (see PriceCatalog.replyCostMicros). */
  private costOf(streamed: StreamedReply, usage: UsagePayload): number | null {
    if (!this.prices) return null;
    const estimated = streamed.text
      ? {
          promptTokens: usage.prompt_tokens,
          completionTokens: usage.completion_tokens,
          totalTokens: usage.tokens,
        }
      : undefined;
    return this.prices.replyCostMicros(streamed.model, streamed.providerUsage, estimated);
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

/**
 * Writes the text of a streaming reply to the history store at most every `intervalMs`, one
 * write at a time (a slow store skips checkpoints rather than queueing them), so a crash loses at
 * most one interval and the history shows a running reply's text so far.
 */
export class ReplyCheckpoints {
  private last = Date.now();
  private inFlight: Promise<void> | undefined;

  constructor(
    private readonly write: (text: string) => Promise<void>,
    private readonly intervalMs: number,
    private readonly onError: (error: unknown) => void,
  ) {}

  offer(text: string): void {
    const now = Date.now();
    if (this.inFlight || now - this.last < this.intervalMs) return;
    this.last = now;
    this.inFlight = this.write(text)
      .catch(this.onError)
      .finally(() => (this.inFlight = undefined));
  }

  async settled(): Promise<void> {
    await this.inFlight;
  }
}

function finishReasonOf(reply: StreamedReply): FinishReasonPayload {
  if (reply.aborted) return 'aborted';
  return reply.failure ? 'error' : reply.finishReason;
}

function estimateUsage(promptTokens: number, text: string): UsagePayload {
  const completion = text ? countTokens(text) : 0;
  return {
    prompt_tokens: promptTokens,
    completion_tokens: completion,
    tokens: promptTokens + completion,
  };
}
