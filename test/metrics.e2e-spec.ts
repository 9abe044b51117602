import { randomBytes } from 'node:crypto';
import request from 'supertest';
import { describeE2e, startTestApp, TestApp } from '@app/testing';
import { MetricsService } from '../src/metrics/metrics.service';
import { findSamples, sampleValue } from './metrics-text';

const HTTP = 'chatbot_http_request_duration_seconds_count';
const SERIES = [
  'chatbot_http_request_duration_seconds',
  'chatbot_active_streams',
  'chatbot_active_sockets',
  'chatbot_provider_request_duration_seconds',
  'chatbot_provider_errors_total',
  'chatbot_provider_retries_total',
  'chatbot_provider_fallbacks_total',
  'chatbot_provider_tokens_total',
  'chatbot_throttled_requests_total',
];

describeE2e('metrics (GET /metrics)', () => {
  describe('enabled without a token (default)', () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await startTestApp();
    });
    afterAll(() => t.close());

    it('serves Prometheus text with every chatbot_ series and process metrics', async () => {
      const res = await request(t.url).get('/metrics').expect(200);
      expect(res.headers['content-type']).toMatch(/^text\/plain;/);
      expect(res.headers['content-type']).toContain('version=0.0.4');
      expect(res.headers['cache-control']).toBe('no-store');
      for (const name of SERIES) expect(res.text).toContain(`# TYPE ${name} `);
      expect(res.text).toContain('# TYPE process_cpu_user_seconds_total counter');
      expect(res.text).toContain('# TYPE nodejs_eventloop_lag_seconds gauge');
      for (const transport of ['sse', 'socketio', 'ws']) {
        expect(sampleValue(res.text, 'chatbot_active_streams', { transport })).toBe(0);
        expect(sampleValue(res.text, 'chatbot_active_sockets', { transport })).toBe(0);
      }
    });

    it('times requests under their route template, not the raw URL', async () => {
      await request(t.url).get('/health/live').expect(200);
      await request(t.url).get('/health/live').expect(200);
      await request(t.url).get('/health/ready').expect(200);
      const rawId = randomBytes(8).toString('hex');
      await request(t.url).get(`/api/no-such-thing/${rawId}`).expect(404);
      // An unauthenticated call to a real /api route: refused by its guard, labelled by template.
      await request(t.url).get('/api/users/me').expect(401);

      const text = (await request(t.url).get('/metrics').expect(200)).text;
      expect(sampleValue(text, HTTP, { method: 'GET', route: '/health/live', status: '200' })).toBe(
        2,
      );
      expect(sampleValue(text, HTTP, { route: '/health/ready', status: '200' })).toBe(1);
      expect(sampleValue(text, HTTP, { route: '/api/users/me', status: '401' })).toBe(1);
      expect(sampleValue(text, HTTP, { route: 'unmatched', status: '404' })).toBe(1);
      expect(text).not.toContain(rawId);
      const routes = findSamples(text, HTTP).map((s) => s.labels.route);
      expect(routes.every((route) => route === 'unmatched' || route.startsWith('/'))).toBe(true);
      // The histogram has buckets and a sum too, not only a count.
      expect(
        findSamples(text, 'chatbot_http_request_duration_seconds_bucket', {
          route: '/health/live',
          le: '+Inf',
        })[0]?.value,
      ).toBe(2);
    });

    it('exposes what feature modules record through MetricsService', async () => {
      const metrics = t.app.get(MetricsService);
      metrics.providerCall({ provider: 'groq', model: 'm1', outcome: 'success', seconds: 0.4 });
      metrics.providerCall({ provider: 'groq', model: 'm1', outcome: 'timeout', seconds: 30 });
      metrics.providerRetry('groq', 'm1');
      metrics.providerFallback('groq/m1', 'local/echo');
      metrics.providerTokens('groq', 'm1', 12, 34);
      metrics.streamOpened('sse');
      metrics.socketConnected('socketio');
      metrics.throttled('quota');

      const text = (await request(t.url).get('/metrics').expect(200)).text;
      const provider = { provider: 'groq', model: 'm1' };
      expect(
        sampleValue(text, 'chatbot_provider_request_duration_seconds_count', {
          ...provider,
          outcome: 'success',
        }),
      ).toBe(1);
      expect(
        sampleValue(text, 'chatbot_provider_errors_total', { ...provider, outcome: 'timeout' }),
      ).toBe(1);
      expect(sampleValue(text, 'chatbot_provider_retries_total', provider)).toBe(1);
      expect(
        sampleValue(text, 'chatbot_provider_fallbacks_total', {
          from_model: 'groq/m1',
          to_model: 'local/echo',
        }),
      ).toBe(1);
      expect(
        sampleValue(text, 'chatbot_provider_tokens_total', { ...provider, kind: 'prompt' }),
      ).toBe(12);
      expect(
        sampleValue(text, 'chatbot_provider_tokens_total', { ...provider, kind: 'completion' }),
      ).toBe(34);
      expect(sampleValue(text, 'chatbot_active_streams', { transport: 'sse' })).toBe(1);
      expect(sampleValue(text, 'chatbot_active_sockets', { transport: 'socketio' })).toBe(1);
      expect(sampleValue(text, 'chatbot_throttled_requests_total', { scope: 'quota' })).toBe(1);
    });

    it('documents /metrics in OpenAPI as a text/plain route outside /api', async () => {
      const doc = (await request(t.url).get('/docs-json').expect(200)).body;
      const op = doc.paths['/metrics']?.get;
      expect(op).toBeDefined();
      expect(Object.keys(op.responses['200'].content)).toEqual(['text/plain']);
      expect(op.responses['401']).toBeDefined();
    });
  });

  describe('METRICS_ENABLED=false', () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await startTestApp({ METRICS_ENABLED: 'false' });
    });
    afterAll(() => t.close());

    it('answers 404 {detail} and leaves /metrics out of the OpenAPI document', async () => {
      const res = await request(t.url).get('/metrics').expect(404);
      expect(res.body).toEqual({ detail: expect.any(String) });
      expect(res.text).not.toContain('chatbot_');
      const doc = (await request(t.url).get('/docs-json').expect(200)).body;
      expect(doc.paths['/metrics']).toBeUndefined();
    });

    it('keeps serving the API', async () => {
      await request(t.url).get('/health/live').expect(200, { status: 'ok' });
    });
  });

  describe('METRICS_TOKEN set', () => {
    const token = `metrics-${randomBytes(16).toString('hex')}`;
    let t: TestApp;
    beforeAll(async () => {
      t = await startTestApp({ METRICS_TOKEN: token });
    });
    afterAll(() => t.close());

    const refused = { detail: 'A valid metrics token is required' };

    it('answers 401 {detail} without a token', async () => {
      const res = await request(t.url).get('/metrics').expect(401);
      expect(res.body).toEqual(refused);
    });

    it('answers 401 {detail} with a wrong token or another scheme', async () => {
      for (const header of [`Bearer ${token}x`, 'Bearer ', `Basic ${token}`, token]) {
        const res = await request(t.url).get('/metrics').set('Authorization', header).expect(401);
        expect(res.body).toEqual(refused);
        expect(res.text).not.toContain(token);
      }
    });

    it('serves the metrics with the right bearer token', async () => {
      const res = await request(t.url)
        .get('/metrics')
        .set('Authorization', `Bearer ${token}`)
        .expect(200);
      expect(res.text).toContain('# TYPE chatbot_http_request_duration_seconds histogram');
    });
  });

  describe('rate limits', () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await startTestApp({ RATE_LIMIT__DEFAULT_PER_MINUTE: '2' });
    });
    afterAll(() => t.close());

    it('never throttle the scrape endpoint', async () => {
      for (let i = 0; i < 6; i++) await request(t.url).get('/metrics').expect(200);
    });
  });
});
