import OpenAI, { APIError, InternalServerError } from 'openai';
import request from 'supertest';
import {
  describeE2e,
  ProviderSimulator,
  registerAndLogin,
  startTestApp,
  type TestApp,
} from '@app/testing';

const GROQ = 'groq/llama-3.1-8b-instant';

/**
 * `/v1` against a real HTTP provider (the simulator), through the official openai SDK: the
 * request's conversation goes upstream as sent, provider failures reach the SDK as its own
 * errors, and the fallback chain of /api/chat applies.
 */
describeE2e('/v1 against a provider (simulator)', () => {
  let t: TestApp;
  let sim: ProviderSimulator;
  let sdk: OpenAI;

  beforeAll(async () => {
    sim = new ProviderSimulator();
    const url = await sim.start();
    t = await startTestApp({
      AI_SERVICES__GROQ_API_KEY: 'sim-groq-key',
      AI_SERVICES__GROQ_BASE_URL: url,
      AI_SERVICES__OPENAI_COMPATIBLE_BASE_URL: url,
      AI_SERVICES__OPENAI_COMPATIBLE_API_KEY: 'sim-compat-key',
      AI_SERVICES__OPENAI_COMPATIBLE_MODELS: 'tiny',
      AI_SERVICES__DEFAULT_MODEL: GROQ,
      AI_SERVICES__FALLBACK_MODELS: 'openai-compatible/tiny',
      AI_SERVICES__MAX_RETRIES: '0',
      AI_SERVICES__BREAKER_THRESHOLD: '1000',
    });
    const user = await registerAndLogin(t.url);
    const key = await request(t.url)
      .post('/api/keys')
      .set('Authorization', `Bearer ${user.token}`)
      .send({ name: 'sim', scopes: ['chat'] })
      .expect(201);
    sdk = new OpenAI({ apiKey: key.body.key, baseURL: `${t.url}/v1`, maxRetries: 0 });
  });
  afterEach(() => sim.reset());
  afterAll(async () => {
    await t.close();
    await sim.stop();
  });

  it('sends the conversation of the request upstream, with its sampling settings', async () => {
    const messages = [
      { role: 'system' as const, content: 'You are terse.' },
      { role: 'user' as const, content: 'first' },
      { role: 'assistant' as const, content: 'an earlier answer' },
      { role: 'user' as const, content: 'second' },
    ];
    const completion = await sdk.chat.completions.create({
      model: GROQ,
      messages,
      temperature: 0.3,
      max_completion_tokens: 50,
    });
    expect(completion.choices[0].message.content).toBe('Simulated reply to: second');
    const upstream = sim.requests.at(-1)!;
    expect(upstream.apiKey).toBe('sim-groq-key');
    expect(upstream.messages).toEqual(messages);
    expect(upstream.body).toMatchObject({ temperature: 0.3 });
  });

  it('falls back to the next model when the first fails before any token', async () => {
    sim.script({ status: 500 });
    const completion = await sdk.chat.completions.create({
      model: GROQ,
      messages: [{ role: 'user', content: 'fall back' }],
    });
    expect(completion.model).toBe('openai-compatible/tiny');
    expect(completion.choices[0].message.content).toBe('Simulated reply to: fall back');
  });

  it("raises the SDK's InternalServerError (502 upstream_error) when every model fails", async () => {
    sim.script({ status: 500 }, { status: 500 });
    const error = await sdk.chat.completions
      .create({ model: GROQ, messages: [{ role: 'user', content: 'fail' }] })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InternalServerError);
    expect((error as InternalServerError).status).toBe(502);
    expect((error as InternalServerError).code).toBe('upstream_error');
    expect((error as InternalServerError).message).not.toContain('sim-groq-key');
  });

  it('ends a stream that fails midway with an error the SDK raises', async () => {
    sim.script({ errorEventAfterChunks: 2 });
    const stream = await sdk.chat.completions.create({
      model: GROQ,
      messages: [{ role: 'user', content: 'a reply that breaks in the middle of it' }],
      stream: true,
    });
    let text = '';
    const error = await (async () => {
      for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    })().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(APIError);
    expect((error as APIError).message).toContain('returned an error; please try again');
    expect(text.length).toBeGreaterThan(0);
  });
});
