import { Logger, type LoggerService } from '@nestjs/common';
import { MetricsService } from '../../metrics/metrics.service';
import type { ResolvedModel } from '../generation.types';
import { ProviderCallRecorder, type ProviderCallRecord } from './provider-call-recorder';

type Level = 'log' | 'warn' | 'error';

/** Every line logged, as [level, fields, message]. */
class CapturingLogger implements LoggerService {
  readonly lines: [Level, unknown, string][] = [];
  log(fields: unknown, message: string) {
    this.lines.push(['log', fields, message]);
  }
  warn(fields: unknown, message: string) {
    this.lines.push(['warn', fields, message]);
  }
  error(fields: unknown, message: string) {
    this.lines.push(['error', fields, message]);
  }
}

const GROQ: ResolvedModel = {
  id: 'groq/llama-3.1-8b-instant',
  provider: 'groq',
  model: 'llama-3.1-8b-instant',
  contextWindow: 131_072,
  inputs: [],
};
const LOCAL: ResolvedModel = {
  id: 'local/echo',
  provider: 'local',
  model: 'echo',
  contextWindow: 32_768,
  inputs: ['image', 'pdf'],
};

function call(fields: Partial<ProviderCallRecord>): ProviderCallRecord {
  return {
    provider: 'groq',
    model: 'llama-3.1-8b-instant',
    keyIndex: 1,
    retry: 0,
    stream: true,
    outcome: 'success',
    latencyMs: 1234.4,
    ...fields,
  };
}

/**
 * The samples of one metric as `labels → value`, labels joined in declaration order; for a
 * histogram, its `_count` series (or the one named by `series`).
 */
async function samples(
  metrics: MetricsService,
  name: string,
  series: '_count' | '_sum' = '_count',
): Promise<Record<string, number>> {
  const metric = await metrics.registry.getSingleMetric(name)!.get();
  return Object.fromEntries(
    metric.values
      .filter((sample) => !('metricName' in sample) || sample.metricName === `${name}${series}`)
      .map((sample) => [Object.values(sample.labels).join(','), sample.value]),
  );
}

describe(ProviderCallRecorder.name, () => {
  let logs: CapturingLogger;
  let metrics: MetricsService;
  let sut: ProviderCallRecorder;

  beforeEach(() => {
    logs = new CapturingLogger();
    Logger.overrideLogger(logs);
    metrics = new MetricsService();
    sut = new ProviderCallRecorder(metrics);
  });

  it('a success: one log line with whole milliseconds and the tokens, a duration and the token counts', async () => {
    sut.record(
      call({
        ttftMs: 85.6,
        userId: 'user-1',
        usage: { promptTokens: 12, completionTokens: 34, totalTokens: 46 },
      }),
    );
    expect(logs.lines).toEqual([
      [
        'log',
        {
          provider: 'groq',
          model: 'llama-3.1-8b-instant',
          keyIndex: 1,
          retry: 0,
          stream: true,
          latencyMs: 1234,
          ttftMs: 86,
          userId: 'user-1',
          outcome: 'success',
          promptTokens: 12,
          completionTokens: 34,
        },
        'Provider call success',
      ],
    ]);
    expect(Object.keys(logs.lines[0][1] as object)).toEqual([
      'provider',
      'model',
      'keyIndex',
      'retry',
      'stream',
      'latencyMs',
      'ttftMs',
      'userId',
      'outcome',
      'promptTokens',
      'completionTokens',
    ]);
    expect(await samples(metrics, 'chatbot_provider_request_duration_seconds')).toEqual({
      'groq,llama-3.1-8b-instant,success': 1,
    });
    const seconds = await samples(metrics, 'chatbot_provider_request_duration_seconds', '_sum');
    // The histogram gets the exact duration, the log line whole milliseconds.
    expect(seconds['groq,llama-3.1-8b-instant,success']).toBeCloseTo(1.2344, 6);
    expect(await samples(metrics, 'chatbot_provider_tokens_total')).toEqual({
      'groq,llama-3.1-8b-instant,prompt': 12,
      'groq,llama-3.1-8b-instant,completion': 34,
    });
    expect(await samples(metrics, 'chatbot_provider_errors_total')).toEqual({});
  });

  it('prompt cache reads and writes: in the log line and as their own token kinds', async () => {
    sut.record(
      call({
        provider: 'anthropic',
        model: 'claude-sonnet-5-5',
        usage: {
          promptTokens: 3000,
          completionTokens: 40,
          totalTokens: 3040,
          cacheReadTokens: 2000,
          cacheWriteTokens: 900,
        },
      }),
    );
    expect(logs.lines[0][1]).toMatchObject({
      promptTokens: 3000,
      cacheReadTokens: 2000,
      cacheWriteTokens: 900,
    });
    expect(await samples(metrics, 'chatbot_provider_tokens_total')).toEqual({
      'anthropic,claude-sonnet-5-5,prompt': 3000,
      'anthropic,claude-sonnet-5-5,completion': 40,
      'anthropic,claude-sonnet-5-5,cache_read': 2000,
      'anthropic,claude-sonnet-5-5,cache_write': 900,
    });
  });

  it('an upstream failure: a warning with status and detail, counted as an error', async () => {
    sut.record(call({ outcome: 'rate_limited', status: 429, detail: 'slow down', stream: false }));
    expect(logs.lines).toEqual([
      [
        'warn',
        {
          provider: 'groq',
          model: 'llama-3.1-8b-instant',
          keyIndex: 1,
          retry: 0,
          stream: false,
          latencyMs: 1234,
          outcome: 'rate_limited',
          status: 429,
          detail: 'slow down',
        },
        'Provider call failed: rate_limited',
      ],
    ]);
    expect(await samples(metrics, 'chatbot_provider_errors_total')).toEqual({
      'groq,llama-3.1-8b-instant,error': 1,
    });
  });

  it('a timeout is its own outcome; an abort is logged as information and is not an error', async () => {
    sut.record(call({ outcome: 'timeout', detail: 'first_token timeout' }));
    sut.record(call({ outcome: 'aborted', detail: 'aborted by the caller' }));
    expect(logs.lines.map(([level, , message]) => [level, message])).toEqual([
      ['warn', 'Provider call failed: timeout'],
      ['log', 'Provider call aborted'],
    ]);
    expect(await samples(metrics, 'chatbot_provider_request_duration_seconds')).toEqual({
      'groq,llama-3.1-8b-instant,timeout': 1,
      'groq,llama-3.1-8b-instant,aborted': 1,
    });
    expect(await samples(metrics, 'chatbot_provider_errors_total')).toEqual({
      'groq,llama-3.1-8b-instant,timeout': 1,
    });
  });

  it('retries and fallbacks are counted; a fallback is logged with its reason', async () => {
    sut.retry(GROQ);
    sut.retry(GROQ);
    sut.fallback(GROQ, LOCAL, new Error('Model groq/llama-3.1-8b-instant returned an error'));
    expect(await samples(metrics, 'chatbot_provider_retries_total')).toEqual({
      'groq,llama-3.1-8b-instant': 2,
    });
    expect(await samples(metrics, 'chatbot_provider_fallbacks_total')).toEqual({
      'groq/llama-3.1-8b-instant,local/echo': 1,
    });
    expect(logs.lines).toEqual([
      [
        'warn',
        {
          from: 'groq/llama-3.1-8b-instant',
          to: 'local/echo',
          reason: 'Model groq/llama-3.1-8b-instant returned an error',
        },
        'Falling back to the next model',
      ],
    ]);
  });

  it('key trouble is logged by key index', () => {
    sut.keyRefused(GROQ, 2, 401);
    sut.noHealthyKey(GROQ, 1500);
    expect(logs.lines).toEqual([
      [
        'error',
        { provider: 'groq', keyIndex: 2, status: 401 },
        'Provider refused a key (401/403); it is disabled until restart',
      ],
      [
        'warn',
        { provider: 'groq', model: 'llama-3.1-8b-instant', waitMs: 1500 },
        'No healthy key: every key is disabled, cooling down or behind an open circuit',
      ],
    ]);
  });

  it('without MetricsService it still logs', () => {
    const withoutMetrics = new ProviderCallRecorder();
    withoutMetrics.record(call({ outcome: 'server', detail: 'boom' }));
    withoutMetrics.retry(GROQ);
    expect(logs.lines.map(([level, , message]) => [level, message])).toEqual([
      ['warn', 'Provider call failed: server'],
    ]);
  });
});
