import type { MetricValueWithName } from 'prom-client';
import { MetricsService } from './metrics.service';

async function values(sut: MetricsService, name: string) {
  const metric = sut.registry.getSingleMetric(name);
  if (!metric) throw new Error(`no metric ${name}`);
  return (await metric.get()).values;
}

describe(MetricsService.name, () => {
  let sut: MetricsService;
  beforeEach(() => {
    sut = new MetricsService();
  });

  it('keeps each instance in its own registry (several apps in one process)', async () => {
    const other = new MetricsService();
    sut.throttled('http');
    expect(await values(other, 'chatbot_throttled_requests_total')).toEqual([]);
    expect((await values(sut, 'chatbot_throttled_requests_total'))[0]).toMatchObject({
      labels: { scope: 'http' },
      value: 1,
    });
  });

  it('tracks open streams and sockets per transport as gauges that go back down', async () => {
    sut.streamOpened('ws');
    sut.streamOpened('ws');
    sut.streamClosed('ws');
    sut.socketConnected('sse');
    sut.socketDisconnected('sse');
    const streams = await values(sut, 'chatbot_active_streams');
    expect(streams.find((v) => v.labels.transport === 'ws')?.value).toBe(1);
    const sockets = await values(sut, 'chatbot_active_sockets');
    expect(sockets.find((v) => v.labels.transport === 'sse')?.value).toBe(0);
  });

  it('counts provider errors for error and timeout outcomes only', async () => {
    for (const outcome of ['success', 'error', 'timeout', 'aborted'] as const) {
      sut.providerCall({ provider: 'p', model: 'm', outcome, seconds: 1 });
    }
    const errors = await values(sut, 'chatbot_provider_errors_total');
    expect(errors.map((v) => v.labels.outcome).sort()).toEqual(['error', 'timeout']);
  });

  it('records zero for negative or non-finite durations instead of throwing', async () => {
    sut.observeHttp('get', '/x', 200, Number.NaN);
    sut.observeHttp('get', '/x', 200, -3);
    const all = (await values(
      sut,
      'chatbot_http_request_duration_seconds',
    )) as MetricValueWithName<string>[];
    const sum = all.find((v) => v.metricName === 'chatbot_http_request_duration_seconds_sum');
    expect(sum).toMatchObject({ labels: { method: 'GET', route: '/x', status: '200' }, value: 0 });
  });

  it('counts prompt cache reads and writes under their own kinds', async () => {
    sut.providerTokens('anthropic', 'claude-sonnet-4-5', 3000, 20, {
      readTokens: 2000,
      writeTokens: 900,
    });
    const tokens = await values(sut, 'chatbot_provider_tokens_total');
    expect(Object.fromEntries(tokens.map((value) => [value.labels.kind, value.value]))).toEqual({
      prompt: 3000,
      completion: 20,
      cache_read: 2000,
      cache_write: 900,
    });
  });

  it('adds no token series for zero counts', async () => {
    sut.providerTokens('p', 'm', 0, 5);
    const tokens = await values(sut, 'chatbot_provider_tokens_total');
    expect(tokens).toEqual([
      expect.objectContaining({
        labels: { provider: 'p', model: 'm', kind: 'completion' },
        value: 5,
      }),
    ]);
  });
});
