import { performance } from 'node:perf_hooks';
import { Injectable, Optional } from '@nestjs/common';
import { AppConfig, type ResilienceConfig } from '@app/config';
import type { ProviderRequest, ProviderStreamEvent, ToolCall } from '../chat-provider.interface';
import type {
  GenerationEvent,
  GenerationRequest,
  GenerationResult,
  ResolvedModel,
} from '../generation.types';
import {
  GenerationAbortedError,
  ProviderError,
  ProviderUnavailableError,
  UpstreamError,
} from '../provider.errors';
import { ProviderRegistry, type RegisteredProvider } from '../provider-registry';
import {
  canFallBack,
  classifyFailure,
  failureRecord,
  finalError,
  type AttemptFailure,
} from './attempt-failure';
import { retryDelay } from './backoff';
import { AttemptScope, CallScope } from './call-scope';
import type { KeySlot } from './key-pool';
import { ProviderCallRecorder, type ProviderCallRecord } from './provider-call-recorder';
import { STREAMED_REPLY, WHOLE_REPLY, type ReplyMode } from './reply-mode';

/** Keys shorter than this are not masked: they would mask ordinary words of a message. */
const MIN_MASKED_KEY_LENGTH = 4;

/**
 * Runs every provider call through the resilience rules, all from `config.ai.resilience`:
 *
 * - timeouts: connect (until response headers of a stream), first token (or the whole
 *   non-streamed reply), idle gap between chunks, total deadline of the whole call;
 * - retries on 429, 5xx, network errors, malformed replies and timeouts, with exponential
 *   backoff and full jitter or the provider's Retry-After (capped at retryMaxMs); never on
 *   400/401/403 (401/403 only rotate to another key); never once a delta was yielded;
 * - a key pool per provider (round-robin over healthy keys, 401/403 disables a key, 429 cools
 *   it down) with a circuit breaker per key;
 * - a fallback chain of models tried in order while no token was yielded;
 * - the caller's AbortSignal reaches the SDK, so aborting closes the upstream connection.
 *
 * `stream` and `complete` run the same loop; they differ only in the adapter call an attempt
 * makes (ReplyMode), and `complete` collects the events into one result.
 */
@Injectable()
export class ResilientExecutor {
  private readonly resilience: ResilienceConfig;
  private readonly secrets: string[];

  constructor(
    config: AppConfig,
    private readonly registry: ProviderRegistry,
    @Optional() private readonly recorder: ProviderCallRecorder = new ProviderCallRecorder(),
  ) {
    this.resilience = config.ai.resilience;
    this.secrets = registry.keys().filter((key) => key.length >= MIN_MASKED_KEY_LENGTH);
  }

  /** A streamed generation; see GenerationEvent for the event order and the errors. */
  stream(request: GenerationRequest): AsyncGenerator<GenerationEvent> {
    return this.generate(request, STREAMED_REPLY);
  }

  /** A whole reply at once, with the same rules (every failure happens before a token). */
  async complete(request: GenerationRequest): Promise<GenerationResult> {
    let text = '';
    const toolCalls: ToolCall[] = [];
    for await (const event of this.generate(request, WHOLE_REPLY)) {
      if (event.type === 'delta') text += event.text;
      if (event.type === 'tool_call') toolCalls.push(event.call);
      if (event.type === 'done') {
        return {
          text,
          model: event.model,
          usage: event.usage,
          finishReason: event.finishReason,
          ...(toolCalls.length > 0 ? { toolCalls } : {}),
        };
      }
    }
    // generate() ends with `done` or throws.
    throw new ProviderError();
  }

  /** The fallback chain: each model in turn until one commits (sends its first event). */
  private async *generate(
    request: GenerationRequest,
    mode: ReplyMode,
  ): AsyncGenerator<GenerationEvent> {
    const needs = [
      ...new Set(request.messages.flatMap((m) => (m.inputs ?? []).map((input) => input.kind))),
    ];
    const chain = this.registry.chain(request.model, request.fallbackModels, needs);
    const call = new CallScope(request.signal, this.resilience.totalTimeoutMs);
    try {
      let lastError: Error | undefined;
      for (let i = 0; i < chain.length; i++) {
        const target = chain[i];
        if (i > 0) this.recorder.fallback(chain[i - 1], target, lastError);
        let committed = false;
        try {
          for await (const event of this.attemptModel(target, request, mode, call, i)) {
            if (!committed) {
              committed = true;
              yield { type: 'start', model: target.id };
            }
            if (event.type === 'delta' || event.type === 'tool_call') yield event;
            else {
              yield {
                type: 'done',
                model: target.id,
                usage: event.usage,
                finishReason: event.finishReason,
              };
            }
          }
          return;
        } catch (error) {
          if (committed || !canFallBack(error, call)) throw error;
          lastError = error as Error;
        }
      }
      throw lastError ?? new ProviderError();
    } finally {
      call.dispose();
    }
  }

  /** Attempts on one model: key rotation and retries, no fallback. */
  private async *attemptModel(
    target: ResolvedModel,
    request: GenerationRequest,
    mode: ReplyMode,
    call: CallScope,
    fallbackStep: number,
  ): AsyncGenerator<ProviderStreamEvent> {
    const entry = this.registry.get(target.provider)!;
    let retry = 0;
    for (;;) {
      const slot = await this.acquire(entry, target, call);
      const attempt = new AttemptScope(call, this.resilience, mode.streaming);
      const context: AttemptContext = {
        target,
        slot,
        retry,
        stream: mode.streaming,
        started: performance.now(),
        fallbackStep,
        request,
      };
      let answered = false;
      let delivered = false;
      const iterator = mode
        .call(entry.provider, this.providerRequest(target, request, attempt), slot.key)
        [Symbol.asyncIterator]();
      try {
        for (;;) {
          if (delivered) attempt.armIdle();
          const next = await attempt.race(iterator.next());
          attempt.disarmIdle();
          if (next.done) {
            throw new UpstreamError('network', 'adapter stream ended without a done event');
          }
          const event = next.value;
          if (!answered) {
            answered = true;
            attempt.markFirstToken();
            if (mode.streaming) context.ttftMs = performance.now() - context.started;
          }
          if (event.type === 'delta' || event.type === 'tool_call') {
            delivered = true;
            yield event;
            continue;
          }
          attempt.markCompleted();
          slot.breaker.onSuccess();
          this.record(context, { outcome: 'success', usage: event.usage });
          yield event;
          return;
        }
      } catch (error) {
        attempt.dispose();
        const failure = classifyFailure(error, call, attempt, this.secrets);
        this.record(context, failureRecord(failure));
        this.applyToKey(entry, target, slot, failure);
        // Never retried once text reached the caller: it would be sent twice.
        if (delivered) throw finalError(target, failure);
        retry = await this.beforeRetry(target, failure, retry, call);
      } finally {
        attempt.dispose();
        void iterator.return?.().catch(() => undefined);
      }
    }
  }

  private providerRequest(
    target: ResolvedModel,
    request: GenerationRequest,
    attempt: AttemptScope,
  ): ProviderRequest {
    return {
      model: target.model,
      messages: request.messages,
      temperature: request.temperature,
      maxTokens: request.maxTokens,
      tools: request.tools,
      toolChoice: request.toolChoice,
      signal: attempt.signal,
      onResponse: () => attempt.markOpened(),
    };
  }

  /**
   * A healthy key of the provider, waiting for a cooling-down key when that is short (at most
   * retryMaxMs, within the total deadline); otherwise 503 with a Retry-After hint.
   */
  private async acquire(
    entry: RegisteredProvider,
    target: ResolvedModel,
    call: CallScope,
  ): Promise<KeySlot> {
    for (;;) {
      const ended = call.endError();
      if (ended) throw ended;
      const slot = entry.pool.acquire();
      if (slot) return slot;
      const wait = entry.pool.allDisabled() ? undefined : entry.pool.readyInMs();
      if (wait === undefined || wait > this.resilience.retryMaxMs || wait >= call.remainingMs()) {
        this.recorder.noHealthyKey(target, wait);
        throw new ProviderUnavailableError(
          `Model ${target.id} is temporarily unavailable; please try again later or choose another model`,
          wait === undefined ? undefined : Math.max(1, Math.ceil(wait / 1000)),
        );
      }
      await call.sleep(Math.max(1, wait));
    }
  }

  /** What a failed attempt says about its key: disable it, cool it down, or tell the breaker. */
  private applyToKey(
    entry: RegisteredProvider,
    target: ResolvedModel,
    slot: KeySlot,
    failure: AttemptFailure,
  ): void {
    switch (failure.kind) {
      case 'final':
        // The caller aborted (says nothing about the provider) or the total deadline passed.
        if (failure.error instanceof GenerationAbortedError) slot.breaker.release();
        else slot.breaker.onFailure();
        return;
      case 'auth':
        entry.pool.disable(slot);
        this.recorder.keyRefused(target, slot.index, failure.status);
        return;
      case 'bad_request':
        // The provider is up; the request itself was refused.
        slot.breaker.release();
        return;
      case 'rate_limited':
        slot.breaker.release();
        entry.pool.coolDown(
          slot,
          failure.retryAfterMs ??
            retryDelay(1, undefined, this.resilience.retryBaseMs, this.resilience.retryMaxMs),
        );
        return;
      case 'server':
      case 'network':
      case 'malformed':
      case 'timeout':
        slot.breaker.onFailure();
        return;
    }
  }

  /**
   * After a failed attempt with nothing delivered: returns the new retry count once the backoff
   * has passed, or throws the final error for this model. 401/403 rotate to another key
   * without counting as a retry; 400 is never retried.
   */
  private async beforeRetry(
    target: ResolvedModel,
    failure: AttemptFailure,
    retry: number,
    call: CallScope,
  ): Promise<number> {
    if (failure.kind === 'final') throw failure.error;
    if (failure.kind === 'auth') return retry;
    if (failure.kind === 'bad_request' || retry >= this.resilience.maxRetries) {
      throw finalError(target, failure);
    }
    const next = retry + 1;
    this.recorder.retry(target);
    // A 429 waits in acquire() for the key's cooldown, or takes another key at once.
    const delay =
      failure.kind === 'rate_limited'
        ? 0
        : retryDelay(
            next,
            failure.retryAfterMs,
            this.resilience.retryBaseMs,
            this.resilience.retryMaxMs,
          );
    await call.sleep(delay);
    return next;
  }

  private record(
    context: AttemptContext,
    result: Pick<ProviderCallRecord, 'outcome' | 'usage' | 'status' | 'detail'>,
  ): void {
    // The caller leaving says nothing about the key's health.
    if (result.outcome !== 'aborted') context.slot.recent.record(result.outcome !== 'success');
    this.recorder.record({
      provider: context.target.provider,
      model: context.target.model,
      keyIndex: context.slot.index,
      retry: context.retry,
      stream: context.stream,
      latencyMs: performance.now() - context.started,
      ttftMs: context.ttftMs,
      userId: context.request.userId,
      apiKeyId: context.request.apiKeyId,
      sessionId: context.request.sessionId,
      messageId: context.request.messageId,
      fallbackStep: context.fallbackStep,
      ...result,
    });
  }
}

/** One attempt, as its log line and metrics describe it. */
interface AttemptContext {
  target: ResolvedModel;
  slot: KeySlot;
  retry: number;
  stream: boolean;
  started: number;
  ttftMs?: number;
  fallbackStep: number;
  /** Who and what the call is for (user, API key, session, message). */
  request: GenerationRequest;
}
