import { performance } from 'node:perf_hooks';
import { Injectable, Logger, Optional } from '@nestjs/common';
import { DomainError } from '@app/common';
import { AppConfig, type ResilienceConfig } from '@app/config';
import { MetricsService, type ProviderOutcome } from '../../metrics/metrics.service';
import type {
  ProviderCompletion,
  ProviderRequest,
  ProviderStreamEvent,
  TokenUsage,
} from '../chat-provider.interface';
import type {
  GenerationEvent,
  GenerationRequest,
  GenerationResult,
  ResolvedModel,
} from '../generation.types';
import {
  GenerationAbortedError,
  ProviderError,
  ProviderTimeoutError,
  ProviderUnavailableError,
  UpstreamError,
  type UpstreamFailureKind,
} from '../provider.errors';
import { ProviderRegistry, type RegisteredProvider } from '../provider-registry';
import { retryDelay } from './backoff';
import { AttemptScope, CallScope, type TimeoutPhase } from './call-scope';
import type { KeySlot } from './key-pool';

/** How one attempt ended, as far as retry, rotation and the breaker are concerned. */
type AttemptFailure =
  | { kind: 'final'; error: Error }
  | {
      kind: UpstreamFailureKind | 'timeout';
      phase?: TimeoutPhase;
      status?: number;
      retryAfterMs?: number;
      detail: string;
    };

/** Everything the log line and the metrics of one upstream attempt need. */
export interface ProviderCallRecord {
  provider: string;
  model: string;
  /** Index of the key in the configured list (never the key). */
  keyIndex: number;
  /** 0 for the first attempt on this model, then 1, 2… */
  retry: number;
  stream: boolean;
  outcome: 'success' | UpstreamFailureKind | 'timeout' | 'aborted';
  latencyMs: number;
  ttftMs?: number;
  usage?: TokenUsage;
  status?: number;
  userId?: string;
  detail?: string;
}

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
 */
@Injectable()
export class ResilientExecutor {
  private readonly logger = new Logger('Providers');
  private readonly resilience: ResilienceConfig;
  private readonly secrets: string[];

  constructor(
    config: AppConfig,
    private readonly registry: ProviderRegistry,
    @Optional() private readonly metrics?: MetricsService,
  ) {
    this.resilience = config.ai.resilience;
    const { ai } = config;
    this.secrets = [
      ...ai.openRouter.keys,
      ...ai.groq.keys,
      ...ai.gemini.keys,
      ...ai.openai.keys,
      ...ai.openaiCompatible.keys,
    ].filter((key) => key.length >= 4);
  }

  /** A streamed generation; see GenerationEvent for the event order and the errors. */
  async *stream(request: GenerationRequest): AsyncGenerator<GenerationEvent> {
    const chain = this.registry.chain(request.model, request.fallbackModels);
    const call = new CallScope(request.signal, this.resilience.totalTimeoutMs);
    try {
      let lastError: Error | undefined;
      for (let i = 0; i < chain.length; i++) {
        const target = chain[i];
        if (i > 0) this.noteFallback(chain[i - 1], target, lastError);
        let committed = false;
        try {
          for await (const event of this.streamModel(target, request, call)) {
            if (!committed) {
              committed = true;
              yield { type: 'start', model: target.id };
            }
            if (event.type === 'delta') yield event;
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

  /** A whole reply at once, with the same rules (every failure happens before a token). */
  async complete(request: GenerationRequest): Promise<GenerationResult> {
    const chain = this.registry.chain(request.model, request.fallbackModels);
    const call = new CallScope(request.signal, this.resilience.totalTimeoutMs);
    try {
      let lastError: Error | undefined;
      for (let i = 0; i < chain.length; i++) {
        const target = chain[i];
        if (i > 0) this.noteFallback(chain[i - 1], target, lastError);
        try {
          const result = await this.completeModel(target, request, call);
          return {
            text: result.text,
            model: target.id,
            usage: result.usage,
            finishReason: result.finishReason,
          };
        } catch (error) {
          if (!canFallBack(error, call)) throw error;
          lastError = error as Error;
        }
      }
      throw lastError ?? new ProviderError();
    } finally {
      call.dispose();
    }
  }

  /** Attempts on one model: key rotation and retries, no fallback. */
  private async *streamModel(
    target: ResolvedModel,
    request: GenerationRequest,
    call: CallScope,
  ): AsyncGenerator<ProviderStreamEvent> {
    const entry = this.registry.get(target.provider)!;
    let retry = 0;
    for (;;) {
      const slot = await this.acquire(entry, target, call);
      const attempt = new AttemptScope(call, this.resilience, true);
      const started = performance.now();
      let ttftMs: number | undefined;
      let delivered = false;
      const iterator = entry.provider
        .stream(this.providerRequest(target, request, attempt), slot.key)
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
          if (ttftMs === undefined) {
            attempt.markFirstToken();
            ttftMs = performance.now() - started;
          }
          if (event.type === 'delta') {
            delivered = true;
            yield event;
            continue;
          }
          attempt.markCompleted();
          this.succeeded(
            { target, slot, retry, stream: true, started, ttftMs, userId: request.userId },
            event.usage,
          );
          yield event;
          return;
        }
      } catch (error) {
        const failure = this.failed(error, call, attempt, entry, {
          target,
          slot,
          retry,
          stream: true,
          started,
          ttftMs,
          userId: request.userId,
        });
        // Never retried once text reached the caller: it would be sent twice.
        if (delivered) throw this.finalError(target, failure);
        retry = await this.beforeRetry(target, failure, retry, call);
      } finally {
        attempt.dispose();
        void iterator.return?.().catch(() => undefined);
      }
    }
  }

  private async completeModel(
    target: ResolvedModel,
    request: GenerationRequest,
    call: CallScope,
  ): Promise<ProviderCompletion> {
    const entry = this.registry.get(target.provider)!;
    let retry = 0;
    for (;;) {
      const slot = await this.acquire(entry, target, call);
      const attempt = new AttemptScope(call, this.resilience, false);
      const started = performance.now();
      try {
        const result = await attempt.race(
          entry.provider.complete(this.providerRequest(target, request, attempt), slot.key),
        );
        attempt.markCompleted();
        this.succeeded(
          { target, slot, retry, stream: false, started, userId: request.userId },
          result.usage,
        );
        return result;
      } catch (error) {
        const failure = this.failed(error, call, attempt, entry, {
          target,
          slot,
          retry,
          stream: false,
          started,
          userId: request.userId,
        });
        retry = await this.beforeRetry(target, failure, retry, call);
      } finally {
        attempt.dispose();
      }
    }
  }

  /** A successful attempt: its key's breaker hears of it, and the call is recorded. */
  private succeeded(context: RecordContext, usage: TokenUsage): void {
    context.slot.breaker.onSuccess();
    this.record(context, { outcome: 'success', usage });
  }

  /** A failed attempt: classified, recorded and applied to its key; retrying is the caller's. */
  private failed(
    error: unknown,
    call: CallScope,
    attempt: AttemptScope,
    entry: RegisteredProvider,
    context: RecordContext,
  ): AttemptFailure {
    attempt.dispose();
    const failure = this.classify(error, call, attempt);
    this.recordFailure(failure, context);
    this.applyToKey(entry, context.target, context.slot, failure);
    return failure;
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
        this.logger.warn(
          { provider: target.provider, model: target.model, waitMs: wait },
          'No healthy key: every key is disabled, cooling down or behind an open circuit',
        );
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
        this.logger.error(
          { provider: target.provider, keyIndex: slot.index, status: failure.status },
          'Provider refused a key (401/403); it is disabled until restart',
        );
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
      throw this.finalError(target, failure);
    }
    const next = retry + 1;
    this.metrics?.providerRetry(target.provider, target.model);
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

  private classify(error: unknown, call: CallScope, attempt: AttemptScope): AttemptFailure {
    const ended = call.endError();
    if (ended) return { kind: 'final', error: ended };
    const phase = attempt.timeoutPhase();
    if (phase) return { kind: 'timeout', phase, detail: `${phase} timeout` };
    if (error instanceof UpstreamError) {
      return {
        kind: error.failure,
        status: error.status,
        retryAfterMs: error.retryAfterMs,
        detail: this.redact(error.message),
      };
    }
    if (error instanceof DomainError) return { kind: 'final', error };
    // Anything else (an aborted adapter without our abort, a bug): treat as a server failure.
    const detail = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    return { kind: 'server', detail: this.redact(detail) };
  }

  /** The error the client sees for a model that failed for good; never quotes the provider. */
  private finalError(target: ResolvedModel, failure: AttemptFailure): Error {
    switch (failure.kind) {
      case 'final':
        return failure.error;
      case 'timeout':
        return new ProviderTimeoutError(
          failure.phase === 'connect'
            ? `Model ${target.id} could not be reached in time`
            : failure.phase === 'idle'
              ? `Model ${target.id} stopped sending its reply`
              : `Model ${target.id} did not answer in time`,
        );
      case 'rate_limited':
        return new ProviderUnavailableError(
          `Model ${target.id} is rate limited by its provider; please try again later`,
          failure.retryAfterMs === undefined
            ? undefined
            : Math.max(1, Math.ceil(failure.retryAfterMs / 1000)),
        );
      case 'auth':
        return new ProviderUnavailableError(
          `Model ${target.id} is temporarily unavailable; please try again later or choose another model`,
        );
      case 'bad_request':
        return new ProviderError(`Model ${target.id} rejected the request`);
      case 'malformed':
        return new ProviderError(`Model ${target.id} sent a malformed reply`);
      case 'network':
        return new ProviderError(`The connection to the provider of ${target.id} failed`);
      case 'server':
        return new ProviderError(`Model ${target.id} returned an error; please try again`);
    }
  }

  private noteFallback(from: ResolvedModel, to: ResolvedModel, error: Error | undefined): void {
    this.logger.warn(
      { from: from.id, to: to.id, reason: error?.message },
      'Falling back to the next model',
    );
    this.metrics?.providerFallback(from.id, to.id);
  }

  private recordFailure(failure: AttemptFailure, context: RecordContext): void {
    if (failure.kind === 'final') {
      const aborted = failure.error instanceof GenerationAbortedError;
      const timeout = failure.error instanceof ProviderTimeoutError;
      this.record(context, {
        outcome: aborted ? 'aborted' : timeout ? 'timeout' : 'server',
        detail: aborted ? 'aborted by the caller' : timeout ? 'total timeout' : failure.error.name,
      });
      return;
    }
    this.record(context, { outcome: failure.kind, status: failure.status, detail: failure.detail });
  }

  private record(
    context: RecordContext,
    result: Pick<ProviderCallRecord, 'outcome' | 'usage' | 'status' | 'detail'>,
  ): void {
    const latencyMs = performance.now() - context.started;
    const entry: ProviderCallRecord = {
      provider: context.target.provider,
      model: context.target.model,
      keyIndex: context.slot.index,
      retry: context.retry,
      stream: context.stream,
      latencyMs: Math.round(latencyMs),
      ttftMs: context.ttftMs === undefined ? undefined : Math.round(context.ttftMs),
      userId: context.userId,
      ...result,
    };
    const usage = result.usage;
    const { usage: _usage, ...fields } = entry;
    const line: Record<string, unknown> = {
      ...fields,
      promptTokens: usage?.promptTokens,
      completionTokens: usage?.completionTokens,
    };
    for (const key of Object.keys(line)) if (line[key] === undefined) delete line[key];
    if (result.outcome === 'success' || result.outcome === 'aborted') {
      this.logger.log(line, `Provider call ${result.outcome}`);
    } else {
      this.logger.warn(line, `Provider call failed: ${result.outcome}`);
    }
    if (this.metrics) {
      const outcome: ProviderOutcome =
        result.outcome === 'success' || result.outcome === 'aborted' || result.outcome === 'timeout'
          ? result.outcome
          : 'error';
      this.metrics.providerCall({
        provider: entry.provider,
        model: entry.model,
        outcome,
        seconds: latencyMs / 1000,
      });
      if (usage) {
        this.metrics.providerTokens(
          entry.provider,
          entry.model,
          usage.promptTokens,
          usage.completionTokens,
        );
      }
    }
  }

  /** Provider messages may quote a key (e.g. "Incorrect API key provided: sk-…"): mask ours. */
  private redact(text: string): string {
    let out = text;
    for (const secret of this.secrets) out = out.split(secret).join('[key]');
    return out.length > 300 ? `${out.slice(0, 300)}…` : out;
  }
}

interface RecordContext {
  target: ResolvedModel;
  slot: KeySlot;
  retry: number;
  stream: boolean;
  started: number;
  ttftMs?: number;
  userId?: string;
}

/** A model failed before any token: may the next model of the chain be tried? */
function canFallBack(error: unknown, call: CallScope): boolean {
  if (call.endError()) return false;
  return (
    error instanceof ProviderError ||
    error instanceof ProviderUnavailableError ||
    error instanceof ProviderTimeoutError
  );
}
