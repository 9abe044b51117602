import { Injectable, Logger, Optional } from '@nestjs/common';
import { MetricsService, type ProviderOutcome } from '../../metrics/metrics.service';
import { PriceCatalog } from '../../usage/price-catalog';
import { UsageLedger } from '../../usage/usage-ledger';
import type { TokenUsage } from '../chat-provider.interface';
import type { ResolvedModel } from '../generation.types';
import type { UpstreamFailureKind } from '../provider.errors';

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
  /** Unrounded: the duration histogram gets the exact value, the log line whole milliseconds. */
  latencyMs: number;
  ttftMs?: number;
  usage?: TokenUsage;
  status?: number;
  userId?: string;
  /** The personal API key of the request, when it came through one. */
  apiKeyId?: string;
  sessionId?: string;
  messageId?: string;
  /** 0 for the requested model, 1 for the first fallback model… */
  fallbackStep?: number;
  /** Already free of keys. */
  detail?: string;
}

/** How a configured key is named in logs, metrics and the usage ledger: `groq#2` (never the key). */
export function keyAlias(provider: string, keyIndex: number): string {
  return `${provider}#${keyIndex + 1}`;
}

/**
 * What the resilience layer reports about provider calls: one log line, the metric series (tokens
 * and cost) and a usage-ledger row per attempt of a user's call, plus retries, fallbacks and key
 * trouble. Without MetricsService it only logs; without the ledger nothing is stored.
 */
@Injectable()
export class ProviderCallRecorder {
  private readonly logger = new Logger('Providers');

  constructor(
    @Optional() private readonly metrics?: MetricsService,
    @Optional() private readonly ledger?: UsageLedger,
    @Optional() private readonly prices?: PriceCatalog,
  ) {}

  /** One finished upstream attempt, successful or not. */
  record(call: ProviderCallRecord): void {
    const line: Record<string, unknown> = {
      provider: call.provider,
      model: call.model,
      keyIndex: call.keyIndex,
      retry: call.retry,
      stream: call.stream,
      latencyMs: Math.round(call.latencyMs),
      ttftMs: call.ttftMs === undefined ? undefined : Math.round(call.ttftMs),
      userId: call.userId,
      outcome: call.outcome,
      status: call.status,
      detail: call.detail,
      promptTokens: call.usage?.promptTokens,
      completionTokens: call.usage?.completionTokens,
      cacheReadTokens: call.usage?.cacheReadTokens,
      cacheWriteTokens: call.usage?.cacheWriteTokens,
    };
    for (const key of Object.keys(line)) if (line[key] === undefined) delete line[key];
    if (call.outcome === 'success' || call.outcome === 'aborted') {
      this.logger.log(line, `Provider call ${call.outcome}`);
    } else {
      this.logger.warn(line, `Provider call failed: ${call.outcome}`);
    }
    const modelId = `${call.provider}/${call.model}`;
    const costMicros = call.usage ? (this.prices?.costMicros(modelId, call.usage) ?? null) : 0;
    if (call.userId && this.ledger) {
      this.ledger.record({
        userId: call.userId,
        apiKeyId: call.apiKeyId,
        sessionId: call.sessionId,
        messageId: call.messageId,
        provider: call.provider,
        model: modelId,
        keyAlias: keyAlias(call.provider, call.keyIndex),
        promptTokens: call.usage?.promptTokens ?? 0,
        completionTokens: call.usage?.completionTokens ?? 0,
        cachedTokens: call.usage?.cacheReadTokens ?? 0,
        // A failed attempt without a usage report is charged nothing by the providers.
        costMicros,
        latencyMs: call.latencyMs,
        ttftMs: call.ttftMs,
        status: call.outcome,
        fallbackStep: call.fallbackStep ?? 0,
        retry: call.retry,
        createdAt: new Date(),
      });
    }
    if (!this.metrics) return;
    this.metrics.providerCall({
      provider: call.provider,
      model: call.model,
      outcome: metricOutcome(call.outcome),
      seconds: call.latencyMs / 1000,
    });
    if (call.usage) {
      this.metrics.providerTokens(
        call.provider,
        call.model,
        call.usage.promptTokens,
        call.usage.completionTokens,
        { readTokens: call.usage.cacheReadTokens, writeTokens: call.usage.cacheWriteTokens },
      );
      if (this.prices) this.metrics.providerCostMicros(call.provider, call.model, costMicros);
    }
  }

  /** Another attempt on the same model is about to start. */
  retry(target: ResolvedModel): void {
    this.metrics?.providerRetry(target.provider, target.model);
  }

  /** `from` failed before any token; `to` is tried next. */
  fallback(from: ResolvedModel, to: ResolvedModel, reason: Error | undefined): void {
    this.logger.warn(
      { from: from.id, to: to.id, reason: reason?.message },
      'Falling back to the next model',
    );
    this.metrics?.providerFallback(from.id, to.id);
  }

  /** The provider answered 401/403 to a key, which is now disabled. */
  keyRefused(target: ResolvedModel, keyIndex: number, status: number | undefined): void {
    this.logger.error(
      { provider: target.provider, keyIndex, status },
      'Provider refused a key (401/403); it is disabled until restart',
    );
  }

  /** No key of the provider can be used within the wait the rules allow. */
  noHealthyKey(target: ResolvedModel, waitMs: number | undefined): void {
    this.logger.warn(
      { provider: target.provider, model: target.model, waitMs },
      'No healthy key: every key is disabled, cooling down or behind an open circuit',
    );
  }
}

/** The metrics know four outcomes; every upstream failure kind is an `error`. */
function metricOutcome(outcome: ProviderCallRecord['outcome']): ProviderOutcome {
  return outcome === 'success' || outcome === 'aborted' || outcome === 'timeout'
    ? outcome
    : 'error';
}
