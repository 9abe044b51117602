import { Injectable } from '@nestjs/common';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/** Transports that hold a long-lived connection or stream open. */
export type StreamTransport = 'sse' | 'socketio' | 'ws';

/** How one upstream provider call ended. */
export type ProviderOutcome = 'success' | 'error' | 'timeout' | 'aborted';

export interface ProviderCallObservation {
  provider: string;
  model: string;
  outcome: ProviderOutcome;
  /** Wall time of the call, first byte sent to last byte received. */
  seconds: number;
}

const TRANSPORTS: readonly StreamTransport[] = ['sse', 'socketio', 'ws'];

/**
 * Process metrics (CPU, memory, event loop, GC) are per process, so they are collected once
 * into a process-wide registry and shared by every app instance (tests boot many in one process;
 * each `collectDefaultMetrics` call would start its own event-loop monitor).
 */
let processRegistry: Registry | undefined;
function getProcessRegistry(): Registry {
  if (!processRegistry) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry });
  }
  return processRegistry;
}

/**
 * Prometheus metrics of the app, in its own registry (never prom-client's global one, so several
 * app instances in one process do not collide). Feature modules inject it and call the
 * `observe*` / `stream*` / `provider*` methods; `GET /metrics` renders `metrics()`.
 */
@Injectable()
export class MetricsService {
  readonly registry = new Registry();

  private readonly httpDuration = new Histogram({
    name: 'chatbot_http_request_duration_seconds',
    help: 'HTTP request duration by method, matched route template and status code.',
    labelNames: ['method', 'route', 'status'] as const,
    // Plain API calls sit in the low buckets; streamed replies (SSE) in the high ones.
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300],
    registers: [this.registry],
  });

  private readonly activeStreams = new Gauge({
    name: 'chatbot_active_streams',
    help: 'Chat replies currently being streamed, by transport.',
    labelNames: ['transport'] as const,
    registers: [this.registry],
  });

  private readonly activeSockets = new Gauge({
    name: 'chatbot_active_sockets',
    help: 'Open Socket.IO and WebSocket connections, by transport.',
    labelNames: ['transport'] as const,
    registers: [this.registry],
  });

  private readonly providerDuration = new Histogram({
    name: 'chatbot_provider_request_duration_seconds',
    help: 'Duration of upstream LLM provider calls by provider, model and outcome.',
    labelNames: ['provider', 'model', 'outcome'] as const,
    buckets: [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300],
    registers: [this.registry],
  });

  private readonly providerErrors = new Counter({
    name: 'chatbot_provider_errors_total',
    help: 'Upstream LLM provider calls that failed (outcome error or timeout).',
    labelNames: ['provider', 'model', 'outcome'] as const,
    registers: [this.registry],
  });

  private readonly providerRetries = new Counter({
    name: 'chatbot_provider_retries_total',
    help: 'Retries of upstream LLM provider calls.',
    labelNames: ['provider', 'model'] as const,
    registers: [this.registry],
  });

  private readonly providerFallbacks = new Counter({
    name: 'chatbot_provider_fallbacks_total',
    help: 'Switches from a failing model to the next one of the fallback chain.',
    labelNames: ['from_model', 'to_model'] as const,
    registers: [this.registry],
  });

  private readonly providerTokenCounter = new Counter({
    name: 'chatbot_provider_tokens_total',
    help: 'Tokens reported by upstream providers, by kind: prompt, completion, and the parts of the prompt read from (cache_read) or written to (cache_write) the provider prompt cache.',
    labelNames: ['provider', 'model', 'kind'] as const,
    registers: [this.registry],
  });

  private readonly throttledRequests = new Counter({
    name: 'chatbot_throttled_requests_total',
    help: 'Requests refused with 429 (rate limit or quota), by scope.',
    labelNames: ['scope'] as const,
    registers: [this.registry],
  });

  private readonly replyWrites = new Counter({
    name: 'chatbot_reply_write_retries_total',
    help: 'Final reply writes that failed (history store down) and were queued for retry, by outcome: queued, stored, dropped (queue full or shutdown).',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  private readonly replyWritesWaiting = new Gauge({
    name: 'chatbot_reply_writes_waiting',
    help: 'Final reply writes waiting for the history store to come back.',
    registers: [this.registry],
  });

  private readonly feedbackGiven = new Counter({
    name: 'chatbot_message_feedback_total',
    help: 'Ratings given to assistant replies (each PUT of feedback), by the reply model and rating.',
    labelNames: ['model', 'rating'] as const,
    registers: [this.registry],
  });

  private readonly providerCost = new Counter({
    name: 'chatbot_provider_cost_usd_total',
    help: "Cost of upstream provider calls in USD (catalog prices or the provider's own charge), by provider and model.",
    labelNames: ['provider', 'model'] as const,
    registers: [this.registry],
  });

  private readonly providerCostUnknown = new Counter({
    name: 'chatbot_provider_cost_unknown_total',
    help: 'Provider calls with usage but no known price (their cost is not in chatbot_provider_cost_usd_total).',
    labelNames: ['provider', 'model'] as const,
    registers: [this.registry],
  });

  private readonly budgetRejections = new Counter({
    name: 'chatbot_budget_rejections_total',
    help: 'Chat requests refused before the provider call because a spend budget would be exceeded, by period (day or month).',
    labelNames: ['period'] as const,
    registers: [this.registry],
  });

  private readonly budgetStoreDown = new Counter({
    name: 'chatbot_budget_store_unavailable_total',
    help: 'Budget checks that could not reach the counter store (Redis), by the configured outcome: open (let through) or closed (refused 503).',
    labelNames: ['mode'] as const,
    registers: [this.registry],
  });

  private readonly usageRowsDroppedTotal = new Counter({
    name: 'chatbot_usage_rows_dropped_total',
    help: 'Usage ledger rows dropped because the database stayed unreachable and the buffer was full.',
    registers: [this.registry],
  });

  constructor() {
    this.replyWritesWaiting.set(0);
    this.usageRowsDroppedTotal.inc(0);
    for (const period of ['day', 'month']) this.budgetRejections.inc({ period }, 0);
    // Gauges start at 0 for every transport so dashboards see the series before the first use.
    for (const transport of TRANSPORTS) {
      this.activeStreams.set({ transport }, 0);
      this.activeSockets.set({ transport }, 0);
    }
  }

  /** Content type of `metrics()` (Prometheus text exposition format 0.0.4). */
  get contentType(): string {
    return this.registry.contentType;
  }

  /** Every metric in Prometheus text format: the process metrics, then the app's own. */
  async metrics(): Promise<string> {
    const [processText, appText] = await Promise.all([
      getProcessRegistry().metrics(),
      this.registry.metrics(),
    ]);
    return `${processText.trimEnd()}\n\n${appText}`;
  }

  /** A user rated a reply of `model` (`up` or `down`). */
  observeFeedback(model: string, rating: string): void {
    this.feedbackGiven.inc({ model, rating });
  }

  /** One finished HTTP request. `route` must be a template (`/api/history/:session_id`), never a raw URL. */
  observeHttp(method: string, route: string, status: number, seconds: number): void {
    this.httpDuration.observe(
      { method: method.toUpperCase(), route, status: String(status) },
      nonNegative(seconds),
    );
  }

  /** A streamed reply started on `transport`; pair with `streamClosed`. */
  streamOpened(transport: StreamTransport): void {
    this.activeStreams.inc({ transport });
  }

  /** A streamed reply ended (done, error or abort). */
  streamClosed(transport: StreamTransport): void {
    this.activeStreams.dec({ transport });
  }

  /** A Socket.IO or WebSocket client connected; pair with `socketDisconnected`. */
  socketConnected(transport: StreamTransport): void {
    this.activeSockets.inc({ transport });
  }

  socketDisconnected(transport: StreamTransport): void {
    this.activeSockets.dec({ transport });
  }

  /** One upstream attempt (each retry and each fallback model is its own call). */
  providerCall({ provider, model, outcome, seconds }: ProviderCallObservation): void {
    this.providerDuration.observe({ provider, model, outcome }, nonNegative(seconds));
    if (outcome === 'error' || outcome === 'timeout') {
      this.providerErrors.inc({ provider, model, outcome });
    }
  }

  providerRetry(provider: string, model: string): void {
    this.providerRetries.inc({ provider, model });
  }

  providerFallback(fromModel: string, toModel: string): void {
    this.providerFallbacks.inc({ from_model: fromModel, to_model: toModel });
  }

  /** Cache reads and writes are parts of `promptTokens`, counted again under their own kinds. */
  providerTokens(
    provider: string,
    model: string,
    promptTokens: number,
    completionTokens: number,
    cache: { readTokens?: number; writeTokens?: number } = {},
  ): void {
    const counts: [string, number][] = [
      ['prompt', promptTokens],
      ['completion', completionTokens],
      ['cache_read', cache.readTokens ?? 0],
      ['cache_write', cache.writeTokens ?? 0],
    ];
    for (const [kind, count] of counts) {
      if (count > 0) this.providerTokenCounter.inc({ provider, model, kind }, count);
    }
  }

  /** The cost of one provider call in micro-dollars, or null when its price is unknown. */
  providerCostMicros(provider: string, model: string, micros: number | null): void {
    if (micros === null) this.providerCostUnknown.inc({ provider, model });
    else this.providerCost.inc({ provider, model }, micros / 1_000_000);
  }

  /** A chat request refused because the user's `period` budget would be exceeded. */
  budgetRejected(period: 'day' | 'month'): void {
    this.budgetRejections.inc({ period });
  }

  /** A budget check found its store unreachable and did what `mode` says. */
  budgetStoreUnavailable(mode: 'open' | 'closed'): void {
    this.budgetStoreDown.inc({ mode });
  }

  /** Usage rows given up while the database was down. */
  usageRowsDropped(count: number): void {
    this.usageRowsDroppedTotal.inc(count);
  }

  /** A final reply write queued for retry, stored on a retry, or given up; `waiting` is the queue. */
  replyWrite(outcome: 'queued' | 'stored' | 'dropped', waiting: number): void {
    this.replyWrites.inc({ outcome });
    this.replyWritesWaiting.set(waiting);
  }

  /** A request refused with 429; `scope` says which limit (`http`, `auth`, `quota`, `socketio`…). */
  throttled(scope: string): void {
    this.throttledRequests.inc({ scope });
  }
}

function nonNegative(seconds: number): number {
  return Number.isFinite(seconds) && seconds > 0 ? seconds : 0;
}
