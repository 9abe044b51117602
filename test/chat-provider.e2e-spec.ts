import request from 'supertest';
import {
  describeE2e,
  LoggedInUser,
  postSse,
  ProviderSimulator,
  registerAndLogin,
  settledMessages,
  startTestApp,
  TestApp,
} from '@app/testing';
import { countMessagesTokens } from '../src/providers/token-counter';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const LONG_REPLY = Array.from({ length: 200 }, (_, i) => `token${i}`).join(' ');

/** Chat against real HTTP providers (the simulator): context sent upstream, failures, timeouts, aborts. */
describeE2e('chat against a provider (simulator)', () => {
  let t: TestApp;
  let sim: ProviderSimulator;
  let user: LoggedInUser;
  const chat = (body: object) =>
    request(t.url).post('/api/chat').set('Authorization', `Bearer ${user.token}`).send(body);

  beforeAll(async () => {
    sim = new ProviderSimulator();
    const url = await sim.start();
    t = await startTestApp({
      AI_SERVICES__GROQ_API_KEY: 'sim-groq-key',
      AI_SERVICES__GROQ_BASE_URL: url,
      // A small-window model (8192 tokens) for trimming.
      AI_SERVICES__OPENAI_COMPATIBLE_BASE_URL: url,
      AI_SERVICES__OPENAI_COMPATIBLE_API_KEY: 'sim-compat-key',
      AI_SERVICES__OPENAI_COMPATIBLE_MODELS: 'tiny',
      AI_SERVICES__DEFAULT_MODEL: 'groq/llama-3.1-8b-instant',
      AI_SERVICES__MAX_RETRIES: '0',
      AI_SERVICES__FIRST_TOKEN_TIMEOUT_MS: '1000',
      AI_SERVICES__IDLE_TIMEOUT_MS: '1000',
      AI_SERVICES__BREAKER_THRESHOLD: '1000',
      SHUTDOWN_GRACE_MS: '0',
    });
    user = await registerAndLogin(t.url);
  });
  afterEach(() => sim.reset());
  afterAll(async () => {
    await t.close();
    await sim.stop();
  });

  it('sends the system prompt and the earlier messages upstream', async () => {
    const first = await chat({ message: 'first question', system_prompt: 'You are terse.' }).expect(
      200,
    );
    expect(first.body.reply).toBe('Simulated reply to: first question');
    expect(first.body.model).toBe('groq/llama-3.1-8b-instant');
    const second = await chat({
      message: 'second question',
      session_id: first.body.session_id,
      system_prompt: 'You are terse.',
      temperature: 0.3,
      max_tokens: 100,
    }).expect(200);
    const upstream = sim.requests.at(-1)!;
    expect(upstream.apiKey).toBe('sim-groq-key');
    expect(upstream.model).toBe('llama-3.1-8b-instant');
    expect(upstream.messages).toEqual([
      { role: 'system', content: 'You are terse.' },
      { role: 'user', content: 'first question' },
      { role: 'assistant', content: 'Simulated reply to: first question' },
      { role: 'user', content: 'second question' },
    ]);
    expect(upstream.body).toEqual(expect.objectContaining({ temperature: 0.3 }));
    // Usage comes from the provider.
    expect(second.body.usage.prompt_tokens).toBeGreaterThan(first.body.usage.prompt_tokens);
  });

  it("trims the oldest messages to the model's context window", async () => {
    let sessionId: string | null = null;
    const sent: string[] = [];
    for (let i = 0; i < 6; i++) {
      const message = `m${i} ${'y'.repeat(3900)}`;
      sent.push(message);
      const res: request.Response = await chat({
        message,
        session_id: sessionId,
        model: 'openai-compatible/tiny',
      }).expect(200);
      sessionId = res.body.session_id;
    }
    const last = sim.requests.at(-1)!;
    // 8192-token window minus the default 1024-token reply budget.
    expect(countMessagesTokens(last.messages as never)).toBeLessThanOrEqual(8192 - 1024);
    expect(last.messages.at(-1)).toEqual({ role: 'user', content: sent[5] });
    expect(last.messages[0].role).toBe('user');
    expect(last.messages.some((m) => m.content === sent[0])).toBe(false);
    expect(last.messages.some((m) => m.content === sent[4])).toBe(true);
  });

  it('stores the error and answers 502 when the provider fails', async () => {
    sim.script({ status: 500 });
    const res = await chat({ message: 'will fail' }).expect(502);
    expect(res.body).toEqual({ detail: expect.any(String) });
    expect(res.body.detail).not.toMatch(/sim-groq-key|Internal/);
    const list = await request(t.url)
      .get('/api/history?q=will%20fail')
      .set('Authorization', `Bearer ${user.token}`)
      .expect(200);
    const messages = await settledMessages(t, user.token, list.body.items[0].session_id);
    expect(messages).toEqual([
      expect.objectContaining({ role: 'user', content: 'will fail', status: 'complete' }),
      expect.objectContaining({ role: 'assistant', status: 'error', content: '' }),
    ]);
  });

  it('ends the stream with an error event when the provider fails', async () => {
    sim.script({ status: 500 });
    const stream = await postSse(
      t.url,
      '/api/chat/stream',
      { message: 'stream fail' },
      {
        token: user.token,
      },
    );
    expect(stream.status).toBe(200);
    const events = await stream.finished;
    expect(events.map((e) => e.event)).toEqual(['start', 'error']);
    expect(events[1].data).toEqual({
      detail: res502Detail(events[1].data.detail),
      status: 502,
      message_id: events[0].data.message_id,
    });
    const messages = await settledMessages(t, user.token, events[0].data.session_id);
    expect(messages[1].status).toBe('error');
  });

  it('answers 504 when the provider does not answer in time', async () => {
    sim.script({ hang: true });
    const res = await chat({ message: 'too slow' }).expect(504);
    expect(res.body).toEqual({ detail: expect.any(String) });
  });

  it('closes the upstream connection when the SSE client disconnects', async () => {
    sim.script({ chunkDelayMs: 100, reply: LONG_REPLY });
    const stream = await postSse(
      t.url,
      '/api/chat/stream',
      { message: 'long one' },
      {
        token: user.token,
      },
    );
    const start = await stream.waitFor('start');
    await stream.waitFor('delta');
    await sleep(250);
    stream.close();
    await sim.waitFor(() => sim.requests.at(-1)?.closedByClient === true);
    const messages = await settledMessages(t, user.token, start.data.session_id);
    expect(messages[1].status).toBe('aborted');
    expect(messages[1].content).toMatch(/^token0 /);
    expect(messages[1].content).not.toContain('token199');
  });

  it('closes the upstream connection on POST /abort and keeps the partial text', async () => {
    sim.script({ chunkDelayMs: 100, reply: LONG_REPLY });
    const stream = await postSse(
      t.url,
      '/api/chat/stream',
      { message: 'long two' },
      {
        token: user.token,
      },
    );
    const start = await stream.waitFor('start');
    await stream.waitFor('delta');
    await request(t.url)
      .post(`/api/chat/${start.data.session_id}/abort`)
      .set('Authorization', `Bearer ${user.token}`)
      .expect(202);
    const events = await stream.finished;
    expect(events.at(-1)!.data.finish_reason).toBe('aborted');
    await sim.waitFor(() => sim.requests.at(-1)?.closedByClient === true);
    const partial = events
      .filter((e) => e.event === 'delta')
      .map((e) => e.data.text)
      .join('');
    const messages = await settledMessages(t, user.token, start.data.session_id);
    expect(messages[1]).toEqual(expect.objectContaining({ status: 'aborted', content: partial }));
  });
});

describeE2e('chat session titles (simulator)', () => {
  let t: TestApp;
  let sim: ProviderSimulator;
  let user: LoggedInUser;
  beforeAll(async () => {
    sim = new ProviderSimulator();
    const url = await sim.start();
    t = await startTestApp({
      AI_SERVICES__GROQ_API_KEY: 'sim-groq-key',
      AI_SERVICES__GROQ_BASE_URL: url,
      AI_SERVICES__DEFAULT_MODEL: 'groq/llama-3.1-8b-instant',
      AI_SERVICES__MAX_RETRIES: '0',
      CHAT__GENERATE_TITLES: 'true',
    });
    user = await registerAndLogin(t.url);
  });
  afterAll(async () => {
    await t.close();
    await sim.stop();
  });

  const title = async (sessionId: string) =>
    (
      await request(t.url)
        .get(`/api/history/${sessionId}`)
        .set('Authorization', `Bearer ${user.token}`)
        .expect(200)
    ).body.title as string;

  it('replaces the derived title with a short generated one after the first exchange', async () => {
    sim.script({}, { reply: 'Title: "Sourdough Starter Basics."' });
    const res = await request(t.url)
      .post('/api/chat')
      .set('Authorization', `Bearer ${user.token}`)
      .send({ message: 'How do I keep a sourdough starter alive while I am away for two weeks?' })
      .expect(200);
    await sim.waitFor(() => sim.requests.length === 2);
    const titleRequest = sim.requests[1];
    expect(titleRequest.stream).toBe(false);
    expect(titleRequest.body).toEqual(expect.objectContaining({ max_tokens: 16 }));
    for (
      let i = 0;
      i < 50 && (await title(res.body.session_id)) !== 'Sourdough Starter Basics';
      i++
    ) {
      await sleep(20);
    }
    expect(await title(res.body.session_id)).toBe('Sourdough Starter Basics');
  });

  it('keeps the derived title when title generation fails, without failing the reply', async () => {
    sim.reset();
    sim.script({}, { status: 500 });
    const res = await request(t.url)
      .post('/api/chat')
      .set('Authorization', `Bearer ${user.token}`)
      .send({ message: 'Please explain the difference between optimistic and pessimistic locking' })
      .expect(200);
    await sim.waitFor(() => sim.requests.length === 2);
    await sleep(100);
    expect(await title(res.body.session_id)).toBe(
      'Please explain the difference between optimistic and…',
    );
  });
});

/** The 502 detail is client-safe text: it never carries the provider's own error or a key. */
function res502Detail(detail: unknown): string {
  expect(typeof detail).toBe('string');
  expect(detail).not.toMatch(/sim-groq-key/);
  return detail as string;
}
