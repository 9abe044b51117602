import request from 'supertest';
import {
  describeE2e,
  ProviderSimulator,
  registerAndLogin,
  startTestApp,
  type LoggedInUser,
  type TestApp,
} from '@app/testing';

/** GET /api/models and the provider layer as the chat API exposes it, against the simulator. */
describeE2e('Providers API', () => {
  let sim: ProviderSimulator;
  let t: TestApp;
  let user: LoggedInUser;

  beforeAll(async () => {
    sim = new ProviderSimulator();
    const url = await sim.start();
    t = await startTestApp({
      AI_SERVICES__GROQ_API_KEY: 'groq-e2e-key',
      AI_SERVICES__GROQ_BASE_URL: `${url}/openai/v1`,
      AI_SERVICES__GEMINI_API_KEY: 'gemini-e2e-key',
      AI_SERVICES__GEMINI_BASE_URL: url,
      AI_SERVICES__FALLBACK_MODELS: 'gemini/gemini-2.0-flash',
      AI_SERVICES__MAX_RETRIES: '0',
      AI_SERVICES__RETRY_BASE_MS: '1',
      QUOTA__REQUESTS_PER_MINUTE: '5',
    });
    user = await registerAndLogin(t.url);
  });

  afterAll(async () => {
    await t?.close();
    await sim?.stop();
  });

  beforeEach(() => sim.reset());

  it('GET /api/models without a token → 401 {detail}', async () => {
    const res = await request(t.url).get('/api/models');
    expect(res.status).toBe(401);
    expect(res.body).toEqual({ detail: 'Not authenticated' });
  });

  it('GET /api/models lists the configured providers with context windows and one default', async () => {
    const res = await request(t.url)
      .get('/api/models')
      .set('Authorization', `Bearer ${user.token}`);
    expect(res.status).toBe(200);
    const items = res.body.items as {
      id: string;
      provider: string;
      context_window?: number;
      default: boolean;
    }[];
    expect(new Set(items.map((item) => item.provider))).toEqual(
      new Set(['groq', 'gemini', 'local']),
    );
    expect(items.filter((item) => item.default)).toEqual([
      {
        id: 'groq/llama-3.1-8b-instant',
        provider: 'groq',
        context_window: 131072,
        inputs: [],
        tools: true,
        default: true,
      },
    ]);
    expect(items).toContainEqual({
      id: 'gemini/gemini-2.0-flash',
      provider: 'gemini',
      context_window: 1048576,
      inputs: ['image', 'pdf'],
      tools: true,
      default: false,
    });
    expect(items).toContainEqual({
      id: 'local/echo',
      provider: 'local',
      context_window: 32768,
      inputs: ['image', 'pdf'],
      tools: false,
      default: false,
    });
  });

  it('a chat with an unknown model or an unconfigured provider → 400 naming the valid prefixes', async () => {
    for (const model of ['nope/model', 'openai/gpt-4o', 'groq/no-such-model']) {
      const res = await request(t.url)
        .post('/api/chat')
        .set('Authorization', `Bearer ${user.token}`)
        .send({ message: 'hi', model });
      expect(res.status).toBe(400);
      expect(res.body.detail).toBe(
        `Unknown model "${model}". Valid prefixes: groq/, gemini/, local/ (GET /api/models lists the models)`,
      );
    }
    expect(sim.requests).toHaveLength(0);
  });

  it('a chat reaches the provider through the SDK; a failing primary falls back and the reply names the model', async () => {
    const ok = await request(t.url)
      .post('/api/chat')
      .set('Authorization', `Bearer ${user.token}`)
      .send({ message: 'first question' });
    expect(ok.status).toBe(200);
    expect(ok.body.reply).toBe('Simulated reply to: first question');
    expect(ok.body.model).toBe('groq/llama-3.1-8b-instant');
    expect(sim.requests[0].apiKey).toBe('groq-e2e-key');

    sim.reset();
    sim.script({ status: 503 });
    const fallback = await request(t.url)
      .post('/api/chat')
      .set('Authorization', `Bearer ${user.token}`)
      .send({ message: 'second question' });
    expect(fallback.status).toBe(200);
    expect(fallback.body.model).toBe('gemini/gemini-2.0-flash');
    expect(fallback.body.reply).toBe('Simulated reply to: second question');
    expect(sim.requests.map((r) => [r.api, r.status])).toEqual([
      ['openai', 503],
      ['gemini', 200],
    ]);
  });

  it('every model failing → 502 {detail} without provider text or key', async () => {
    const other = await registerAndLogin(t.url);
    sim.script({ status: 500 }, { status: 500 });
    const res = await request(t.url)
      .post('/api/chat')
      .set('Authorization', `Bearer ${other.token}`)
      .send({ message: 'will fail' });
    expect(res.status).toBe(502);
    expect(res.body).toEqual({
      detail: 'Model gemini/gemini-2.0-flash returned an error; please try again',
    });
    expect(JSON.stringify(res.body)).not.toMatch(/simulated|groq-e2e-key|gemini-e2e-key/i);
  });

  it('quota: requests per minute per user → 429 with Retry-After', async () => {
    const limited = await registerAndLogin(t.url);
    const statuses: number[] = [];
    let last: request.Response | undefined;
    for (let i = 0; i < 6; i++) {
      last = await request(t.url)
        .post('/api/chat')
        .set('Authorization', `Bearer ${limited.token}`)
        .send({ message: `message ${i}`, model: 'local/echo' });
      statuses.push(last.status);
    }
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429]);
    expect(last!.body).toEqual({ detail: 'Too many chat requests: at most 5 per minute' });
    const retryAfter = Number(last!.headers['retry-after']);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(120);
  });
});
