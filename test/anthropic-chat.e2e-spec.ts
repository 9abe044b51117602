import OpenAI from 'openai';
import request from 'supertest';
import type { Socket } from 'socket.io-client';
import {
  connectChatSocket,
  describeE2e,
  nextSocketEvent,
  openChatWs,
  postSse,
  registerAndLogin,
  settledMessages,
  startAppWithSimulator,
  type LoggedInUser,
  type ProviderSimulator,
  type SimulatedRequest,
  type TestApp,
} from '@app/testing';

const SONNET = 'anthropic/claude-sonnet-5-5';
const GROQ = 'groq/llama-3.1-8b-instant';
/** About 1250 tokens: a conversation that starts with it is long enough to be cached. */
const LONG_QUESTION = `Please review this text. ${'The quick brown fox jumps over the lazy dog. '.repeat(110)}`;

type Block = { type: string; text: string; cache_control?: { type: string } };
type AnthropicBody = {
  system?: Block[];
  messages: { role: string; content: Block[] }[];
  max_tokens: number;
};
const bodyOf = (upstream: SimulatedRequest) => upstream.body as AnthropicBody;
const cacheMarks = (upstream: SimulatedRequest) =>
  bodyOf(upstream).messages.map((m) => m.content.some((block) => block.cache_control));

/**
 * Chat with `anthropic/<model>` on every transport, against the simulator's Messages API
 * through the official SDK: the request upstream (system in `system`, alternating roles,
 * max_tokens, cache_control on a long conversation's prefix), cache usage in the reply, and
 * provider errors (401 rotates keys, 429 Retry-After, 529 falls back).
 */
describeE2e('chat with an Anthropic model (simulator)', () => {
  let t: TestApp & { sim: ProviderSimulator };
  let sim: ProviderSimulator;
  let user: LoggedInUser;
  const sockets: Socket[] = [];

  beforeAll(async () => {
    t = await startAppWithSimulator((url) => ({
      AI_SERVICES__ANTHROPIC_API_KEY: 'ant-e2e-1',
      AI_SERVICES__ANTHROPIC_API_KEY_2: 'ant-e2e-2',
      AI_SERVICES__ANTHROPIC_BASE_URL: url,
      AI_SERVICES__GROQ_API_KEY: 'groq-e2e',
      AI_SERVICES__GROQ_BASE_URL: `${url}/openai/v1`,
      AI_SERVICES__DEFAULT_MODEL: SONNET,
      AI_SERVICES__FALLBACK_MODELS: GROQ,
      AI_SERVICES__MAX_RETRIES: '1',
      AI_SERVICES__BREAKER_THRESHOLD: '1000',
      CHAT__GENERATE_TITLES: 'false',
      SHUTDOWN_GRACE_MS: '0',
    }));
    ({ sim } = t);
    user = await registerAndLogin(t.url);
  });
  const chat = (body: object) =>
    request(t.url).post('/api/chat').set('Authorization', `Bearer ${user.token}`).send(body);
  afterEach(() => {
    for (const socket of sockets.splice(0)) socket.close();
    sim.reset();
  });
  afterAll(() => t.close());

  it('REST: the reply comes from anthropic/<model>; system in `system`, alternating roles, max_tokens', async () => {
    const first = await chat({ message: 'first question', system_prompt: 'You are terse.' }).expect(
      200,
    );
    expect(first.body).toMatchObject({
      reply: 'Simulated reply to: first question',
      model: SONNET,
    });
    await chat({
      message: 'second question',
      session_id: first.body.session_id,
      max_tokens: 300,
    }).expect(200);
    const upstream = sim.requests.at(-1)!;
    expect(upstream.api).toBe('anthropic');
    expect(upstream.headers['anthropic-version']).toEqual(expect.any(String));
    expect(bodyOf(upstream)).toEqual({
      model: 'claude-sonnet-5-5',
      max_tokens: 300,
      stream: true,
      system: [{ type: 'text', text: 'You are terse.' }],
      messages: [
        { role: 'user', content: [{ type: 'text', text: 'first question' }] },
        {
          role: 'assistant',
          content: [{ type: 'text', text: 'Simulated reply to: first question' }],
        },
        { role: 'user', content: [{ type: 'text', text: 'second question' }] },
      ],
    });
    // The first request had no max_tokens of its own: the configured default was sent.
    expect(bodyOf(sim.requests[0]).max_tokens).toBe(4096);
  });

  it('SSE: a long conversation marks its stable prefix; the next turn reports cache reads in `done`', async () => {
    const first = await postSse(
      t.url,
      '/api/chat/stream',
      { message: LONG_QUESTION },
      { token: user.token },
    );
    const firstEvents = await first.finished;
    const sessionId = firstEvents[0].data.session_id as string;
    expect(firstEvents.at(-1)!.event).toBe('done');
    // One message: nothing stable to cache yet.
    expect(cacheMarks(sim.requests[0])).toEqual([false]);

    const second = await postSse(
      t.url,
      '/api/chat/stream',
      { message: 'a follow-up', session_id: sessionId },
      { token: user.token },
    );
    const secondDone = (await second.finished).at(-1)!;
    expect(cacheMarks(sim.requests[1])).toEqual([false, true, false]);
    expect(secondDone.data.usage).toEqual({
      prompt_tokens: expect.any(Number),
      completion_tokens: expect.any(Number),
      tokens: expect.any(Number),
      cache_write_tokens: sim.requests[1].cache!.writeTokens,
    });

    const third = await postSse(
      t.url,
      '/api/chat/stream',
      { message: 'one more', session_id: sessionId },
      { token: user.token },
    );
    const thirdDone = (await third.finished).at(-1)!;
    expect(cacheMarks(sim.requests[2])).toEqual([false, false, false, true, false]);
    expect(thirdDone.event).toBe('done');
    expect(thirdDone.data.usage.cache_read_tokens).toBe(sim.requests[1].cache!.writeTokens);
    expect(thirdDone.data.usage.cache_read_tokens).toBeGreaterThan(1024);
    expect(thirdDone.data.usage.prompt_tokens).toBeGreaterThan(
      thirdDone.data.usage.cache_read_tokens,
    );
    const stored = await settledMessages(t, user.token, sessionId);
    expect(stored.at(-1)).toMatchObject({ role: 'assistant', model: SONNET, status: 'complete' });
  });

  it('Socket.IO and WebSocket: replies from anthropic/<model>', async () => {
    const socket = await connectChatSocket(t.url, user.token);
    sockets.push(socket);
    const done = nextSocketEvent(socket, 'chat:done', (p) => p.client_id === 's1');
    const ack = await socket
      .timeout(10_000)
      .emitWithAck('chat:send', { message: 'over socket.io', client_id: 's1' });
    expect(ack).toMatchObject({ ok: true });
    expect(await done).toMatchObject({ model: SONNET, finish_reason: 'stop' });

    const ws = await openChatWs(t.url, user.token);
    try {
      ws.send({ message: 'over ws', client_id: 'w1' });
      const wsDone = await ws.next((f) => f.type === 'done');
      expect(wsDone).toMatchObject({ model: SONNET, finish_reason: 'stop' });
      const text = ws.frames
        .filter((f) => f.type === 'delta')
        .map((f) => f.text)
        .join('');
      expect(text).toBe('Simulated reply to: over ws');
    } finally {
      await ws.close();
    }
    expect(sim.requests.map((r) => [r.api, r.model])).toEqual([
      ['anthropic', 'claude-sonnet-5-5'],
      ['anthropic', 'claude-sonnet-5-5'],
    ]);
  });

  it('401 on a key disables it and the next key answers', async () => {
    sim.rejectKey('ant-e2e-1', 401);
    for (const message of ['k1', 'k2']) {
      const res = await chat({ message }).expect(200);
      expect(res.body.model).toBe(SONNET);
    }
    const keys = sim.requests.map((r) => [r.apiKey, r.status]);
    expect(keys).toContainEqual(['ant-e2e-1', 401]);
    expect(keys.filter(([key]) => key === 'ant-e2e-1')).toHaveLength(1);
    expect(keys.filter(([, status]) => status === 200)).toEqual([
      ['ant-e2e-2', 200],
      ['ant-e2e-2', 200],
    ]);
  });

  it('429 is retried after its Retry-After', async () => {
    sim.script({ status: 429, retryAfter: 1 });
    const started = Date.now();
    const res = await chat({ message: 'rate limited once' }).expect(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    expect(res.body.model).toBe(SONNET);
    expect(sim.requests.map((r) => r.status)).toEqual([429, 200]);
  });

  it('529 overloaded (after its retry) falls back to the next model', async () => {
    sim.script({ status: 529 }, { status: 529 });
    const res = await chat({ message: 'overloaded' }).expect(200);
    expect(res.body).toMatchObject({ model: GROQ, reply: 'Simulated reply to: overloaded' });
    expect(sim.requests.map((r) => [r.api, r.status])).toEqual([
      ['anthropic', 529],
      ['anthropic', 529],
      ['openai', 200],
    ]);
  });

  it('/v1/chat/completions with an anthropic model: the conversation goes upstream, cache hits in prompt_tokens_details', async () => {
    const key = await request(t.url)
      .post('/api/keys')
      .set('Authorization', `Bearer ${user.token}`)
      .send({ name: 'anthropic-v1', scopes: ['chat'] })
      .expect(201);
    const sdk = new OpenAI({ apiKey: key.body.key, baseURL: `${t.url}/v1`, maxRetries: 0 });
    const messages = [
      { role: 'system' as const, content: 'You are terse.' },
      { role: 'user' as const, content: LONG_QUESTION },
      { role: 'assistant' as const, content: 'an earlier answer' },
      { role: 'user' as const, content: 'and now?' },
    ];
    const first = await sdk.chat.completions.create({ model: SONNET, messages });
    expect(first.model).toBe(SONNET);
    expect(first.choices[0].message.content).toBe('Simulated reply to: and now?');
    expect(first.usage?.prompt_tokens_details).toBeUndefined();
    const upstream = bodyOf(sim.requests[0]);
    expect(upstream.system).toEqual([{ type: 'text', text: 'You are terse.' }]);
    expect(upstream.messages.map((m) => m.role)).toEqual(['user', 'assistant', 'user']);
    expect(cacheMarks(sim.requests[0])).toEqual([false, true, false]);

    const again = await sdk.chat.completions.create({
      model: SONNET,
      messages,
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    let usage: OpenAI.CompletionUsage | null | undefined;
    for await (const chunk of again) {
      text += chunk.choices[0]?.delta.content ?? '';
      usage = chunk.usage ?? usage;
    }
    expect(text).toBe('Simulated reply to: and now?');
    expect(usage?.prompt_tokens_details?.cached_tokens).toBe(sim.requests[0].cache!.writeTokens);
  });
});
