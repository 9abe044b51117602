import OpenAI, {
  AuthenticationError,
  BadRequestError,
  ConflictError,
  NotFoundError,
  PermissionDeniedError,
  RateLimitError,
} from 'openai';
import request from 'supertest';
import {
  describeE2e,
  registerAndLogin,
  settledMessages,
  startTestApp,
  type LoggedInUser,
  type TestApp,
} from '@app/testing';
import { expectInvalidRequestBody } from './factories/openai-errors.factory';

const LOCAL = 'local/echo';
const QUOTA_PER_MINUTE = 30;
/** A message whose echoed reply streams for seconds (AI_SERVICES__LOCAL_DELAY_MS per word). */
const LONG = Array.from({ length: 300 }, (_, i) => `word${i}`).join(' ');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The `/v1` surface through the official `openai` Node SDK (a client nobody here wrote): its own
 * response types and exception classes are the assertions.
 */
describeE2e('OpenAI-compatible /v1 with the official openai SDK', () => {
  let t: TestApp;
  let alice: LoggedInUser;
  let bob: LoggedInUser;
  let aliceKey: string;

  const http = () => request(t.url);
  const as = (token: string) => ({ Authorization: `Bearer ${token}` });
  const client = (apiKey: string) =>
    new OpenAI({ apiKey, baseURL: `${t.url}/v1`, maxRetries: 0, timeout: 20_000 });
  async function createKey(user: LoggedInUser, scopes: string[]): Promise<string> {
    const res = await http().post('/api/keys').set(as(user.token)).send({ name: 'sdk', scopes });
    expect(res.status).toBe(201);
    return res.body.key as string;
  }
  const historyTotal = async (user: LoggedInUser) =>
    (await http().get('/api/history').set(as(user.token)).expect(200)).body.total as number;

  beforeAll(async () => {
    t = await startTestApp({
      AI_SERVICES__LOCAL_DELAY_MS: '10',
      QUOTA__REQUESTS_PER_MINUTE: String(QUOTA_PER_MINUTE),
      RATE_LIMIT__DEFAULT_PER_MINUTE: '10000',
      RATE_LIMIT__AUTH_PER_MINUTE: '10000',
    });
    alice = await registerAndLogin(t.url);
    bob = await registerAndLogin(t.url);
    aliceKey = await createKey(alice, ['chat', 'models']);
  });
  afterAll(() => t.close());

  it('lists the models of /api/models in the OpenAI list shape', async () => {
    const page = await client(aliceKey).models.list();
    const ours = (await http().get('/api/models').set(as(alice.token)).expect(200)).body.items;
    expect(page.data.map((m) => m.id)).toEqual(ours.map((m: { id: string }) => m.id));
    expect(page.data.find((m) => m.id === LOCAL)).toEqual({
      id: LOCAL,
      object: 'model',
      created: expect.any(Number),
      owned_by: 'local',
    });
  });

  it('answers a completion statelessly: nothing is stored', async () => {
    const before = await historyTotal(alice);
    const completion = await client(aliceKey).chat.completions.create({
      model: LOCAL,
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'Hello from the SDK' },
      ],
      temperature: 0.2,
      max_tokens: 200,
    });
    expect(completion).toMatchObject({
      id: expect.stringMatching(/^chatcmpl-/),
      object: 'chat.completion',
      model: LOCAL,
      choices: [
        {
          index: 0,
          finish_reason: 'stop',
          message: { role: 'assistant', content: expect.stringContaining('Hello from the SDK') },
        },
      ],
    });
    const usage = completion.usage!;
    expect(usage.prompt_tokens).toBeGreaterThan(0);
    expect(usage.total_tokens).toBe(usage.prompt_tokens + usage.completion_tokens);
    expect(await historyTotal(alice)).toBe(before);
  });

  it('streams chunks with usage last (stream_options.include_usage) and ends with [DONE]', async () => {
    const stream = await client(aliceKey).chat.completions.create({
      model: LOCAL,
      messages: [{ role: 'user', content: [{ type: 'text', text: 'Stream me please' }] }],
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks: OpenAI.Chat.Completions.ChatCompletionChunk[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    const text = chunks.map((c) => c.choices[0]?.delta.content ?? '').join('');
    expect(text).toContain('Stream me please');
    expect(chunks[0].choices[0].delta.role).toBe('assistant');
    expect(chunks.at(-2)!.choices[0].finish_reason).toBe('stop');
    const last = chunks.at(-1)!;
    expect(last.choices).toEqual([]);
    expect(last.usage!.completion_tokens).toBeGreaterThan(0);

    const raw = await http()
      .post('/v1/chat/completions')
      .set(as(aliceKey))
      .send({ model: LOCAL, stream: true, messages: [{ role: 'user', content: 'hi' }] })
      .expect(200);
    expect(raw.headers['content-type']).toMatch(/^text\/event-stream/);
    expect(raw.text.trimEnd().endsWith('data: [DONE]')).toBe(true);
    expect(raw.text).not.toContain('"usage"');
  });

  it('ends the reply at a stop sequence, without it', async () => {
    const completion = await client(aliceKey).chat.completions.create({
      model: LOCAL,
      messages: [{ role: 'user', content: 'alpha beta gamma' }],
      stop: ['gamma'],
    });
    const content = completion.choices[0].message.content!;
    expect(content).toMatch(/alpha beta $/);
    expect(completion.choices[0].finish_reason).toBe('stop');
  });

  it('raises the SDK’s AuthenticationError for a bad or revoked key', async () => {
    await expect(client('sk-cb-' + 'A'.repeat(43)).models.list()).rejects.toBeInstanceOf(
      AuthenticationError,
    );
    const key = await createKey(alice, ['models']);
    const listed = await http().get('/api/keys').set(as(alice.token)).expect(200);
    const id = listed.body.items.find((k: { prefix: string }) => key.startsWith(k.prefix)).id;
    await http().delete(`/api/keys/${id}`).set(as(alice.token)).expect(204);
    const error = await client(key)
      .models.list()
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AuthenticationError);
    expect((error as AuthenticationError).code).toBe('invalid_api_key');
  });

  it('raises PermissionDeniedError for a key without the scope', async () => {
    const key = await createKey(alice, ['models']);
    await expect(
      client(key).chat.completions.create({
        model: LOCAL,
        messages: [{ role: 'user', content: 'hi' }],
      }),
    ).rejects.toBeInstanceOf(PermissionDeniedError);
  });

  it('raises NotFoundError (model_not_found) for an unknown model', async () => {
    const error = await client(aliceKey)
      .chat.completions.create({ model: 'nope/x', messages: [{ role: 'user', content: 'hi' }] })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NotFoundError);
    expect((error as NotFoundError).code).toBe('model_not_found');
  });

  it.each([
    [{ n: 2 }, 'n must be 1: this server returns one choice'],
    [{ messages: [] }, 'messages must contain at least one message'],
    [
      { messages: [{ role: 'tool', content: 'x', tool_call_id: '1' }] },
      'messages[0].tool_call_id must answer a call of the assistant message before it',
    ],
    [
      { messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'x' } }] }] },
      'messages[0].content[0] must be a text part {"type": "text", "text": "..."}',
    ],
    [{ stop: ['a', 'b', 'c', 'd', 'e'] }, 'stop must be a string or an array of 1 to 4'],
    [{ temperature: 3 }, 'temperature must not be greater than 2'],
    [{ max_tokens: 0 }, 'max_tokens must be at least 1'],
    [{ stream: 'yes' }, 'stream must be a boolean value'],
    [{ functions: [] }, 'functions is not an allowed field'],
    [{ store: true, stop: 'x' }, 'stop cannot be used when the exchange is stored'],
  ])('answers 400 invalid_request_error (BadRequestError) for %j', async (patch, message) => {
    const body = { model: LOCAL, messages: [{ role: 'user', content: 'hi' }], ...patch };
    const error = await client(aliceKey)
      .chat.completions.create(body as never)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BadRequestError);
    const raw = await http().post('/v1/chat/completions').set(as(aliceKey)).send(body).expect(400);
    expectInvalidRequestBody(raw.body, message);
  });

  it('answers 401 in both shapes without a key', async () => {
    const res = await http().get('/v1/models').expect(401);
    expect(res.body).toEqual({
      error: {
        message: 'Not authenticated',
        type: 'invalid_request_error',
        param: null,
        code: 'invalid_api_key',
      },
      detail: 'Not authenticated',
    });
  });

  it('answers malformed JSON and unknown /v1 routes in the same envelope', async () => {
    const malformed = await http()
      .post('/v1/chat/completions')
      .set(as(aliceKey))
      .set('Content-Type', 'application/json')
      .send('{"model": ')
      .expect(400);
    expect(malformed.body.error).toMatchObject({ type: 'invalid_request_error' });
    expect(malformed.body.detail).toBe(malformed.body.error.message);
    const unknown = await http().get('/v1/embeddings').set(as(aliceKey)).expect(404);
    expect(unknown.body.error).toMatchObject({ type: 'invalid_request_error', code: 'not_found' });
    expect(unknown.body.detail).toEqual(expect.any(String));
  });

  it('documents /v1 under its own Swagger tag, with the 401 body the server sends', async () => {
    const doc = (await http().get('/docs-json').expect(200)).body;
    for (const [path, method] of [
      ['/v1/models', 'get'],
      ['/v1/chat/completions', 'post'],
    ]) {
      expect(doc.paths[path][method].tags).toEqual(['v1 (OpenAI-compatible)']);
    }
    const documented =
      doc.paths['/v1/models'].get.responses['401'].content['application/json'].example;
    const real = (
      await http()
        .get('/v1/models')
        .set(as('sk-cb-' + 'B'.repeat(43)))
        .expect(401)
    ).body;
    expect(real).toEqual(documented);
  });

  it('stores the exchange with "store": true, and continues it with X-Session-Id', async () => {
    const sdk = client(aliceKey);
    const first = await sdk.chat.completions
      .create({
        model: LOCAL,
        messages: [
          { role: 'system', content: 'You are a parrot.' },
          { role: 'user', content: 'Remember the word teapot' },
        ],
        store: true,
      })
      .withResponse();
    const sessionId = first.response.headers.get('x-session-id')!;
    expect(sessionId).toBeTruthy();
    expect(first.data.choices[0].message.content).toContain('teapot');

    const second = await sdk.chat.completions
      .create(
        { model: LOCAL, messages: [{ role: 'user', content: 'And now kettle' }], stream: true },
        { headers: { 'X-Session-Id': sessionId } },
      )
      .withResponse();
    expect(second.response.headers.get('x-session-id')).toBe(sessionId);
    let streamed = '';
    for await (const chunk of second.data) streamed += chunk.choices[0]?.delta.content ?? '';
    expect(streamed).toContain('kettle');

    const session = await http().get(`/api/history/${sessionId}`).set(as(alice.token)).expect(200);
    expect(
      session.body.messages.map((m: { role: string; content: string; status: string }) => [
        m.role,
        m.status,
      ]),
    ).toEqual([
      ['user', 'complete'],
      ['assistant', 'complete'],
      ['user', 'complete'],
      ['assistant', 'complete'],
    ]);
    expect(session.body.messages[2].content).toBe('And now kettle');
    expect(session.body.messages[3].content).toBe(streamed);

    const foreign = await client(await createKey(bob, ['chat']))
      .chat.completions.create(
        { model: LOCAL, messages: [{ role: 'user', content: 'hi' }] },
        { headers: { 'X-Session-Id': sessionId } },
      )
      .catch((e: unknown) => e);
    expect(foreign).toBeInstanceOf(NotFoundError);
  });

  describe('a client that disconnects aborts the generation', () => {
    /** Opens a stream, reads its first content chunk and hangs up; returns the response headers. */
    async function hangUpAfterFirstChunk(body: object): Promise<Headers> {
      const controller = new AbortController();
      const res = await fetch(`${t.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', ...as(aliceKey) },
        body: JSON.stringify({ model: LOCAL, stream: true, ...body }),
        signal: controller.signal,
      });
      const reader = res.body!.getReader();
      let seen = '';
      while (!seen.includes('"content":"This')) {
        seen += new TextDecoder().decode((await reader.read()).value);
      }
      controller.abort();
      return res.headers;
    }
    const abortedCalls = async () => {
      const text = (await http().get('/metrics').expect(200)).text;
      return text
        .split('\n')
        .filter(
          (l) =>
            l.startsWith('chatbot_provider_request_duration_seconds_count') &&
            l.includes('outcome="aborted"'),
        )
        .reduce((sum, l) => sum + Number(l.split(' ').pop()), 0);
    };

    it('stateless: the upstream call ends as aborted', async () => {
      const before = await abortedCalls();
      await hangUpAfterFirstChunk({ messages: [{ role: 'user', content: LONG }] });
      for (let i = 0; i < 50 && (await abortedCalls()) === before; i++) await sleep(50);
      expect(await abortedCalls()).toBe(before + 1);
    });

    it('stored: the partial reply is kept as aborted and the session is free again', async () => {
      const headers = await hangUpAfterFirstChunk({
        messages: [{ role: 'user', content: LONG }],
        store: true,
      });
      const sessionId = headers.get('x-session-id')!;
      const messages = await settledMessages(t, alice.token, sessionId);
      expect(messages[1].status).toBe('aborted');
      expect(messages[1].content).toMatch(/^This/);
      expect(messages[1].content).not.toContain('word299');
      await http()
        .post('/v1/chat/completions')
        .set(as(aliceKey))
        .set('X-Session-Id', sessionId)
        .send({ model: LOCAL, messages: [{ role: 'user', content: 'again' }] })
        .expect(200);
    });
  });

  it('answers 400 context_length_exceeded for messages longer than the context window', async () => {
    const error = await client(aliceKey)
      .chat.completions.create({
        model: LOCAL,
        // local/echo has 32,768 tokens; about 4 characters make a token.
        messages: [{ role: 'user', content: 'abcd '.repeat(30_000) }],
      })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BadRequestError);
    expect((error as BadRequestError).code).toBe('context_length_exceeded');
  });

  it('checks X-Session-Id and keeps one generation per stored session (409)', async () => {
    const send = (sessionId: string, content = 'hi') =>
      http()
        .post('/v1/chat/completions')
        .set(as(aliceKey))
        .set('X-Session-Id', sessionId)
        .send({ model: LOCAL, messages: [{ role: 'user', content }] });
    const tooLong = await send('x'.repeat(101)).expect(400);
    expect(tooLong.body.error.param).toBe('X-Session-Id');
    await send('00000000-0000-4000-8000-000000000000').expect(404);

    const first = await http()
      .post('/v1/chat/completions')
      .set(as(aliceKey))
      .send({ model: LOCAL, store: true, messages: [{ role: 'user', content: 'start' }] })
      .expect(200);
    const sessionId = first.headers['x-session-id'];
    // then() sends it now (supertest sends a request only when it is awaited).
    const running = send(sessionId, LONG).then((res) => res);
    await sleep(200);
    const busy = await client(aliceKey)
      .chat.completions.create(
        { model: LOCAL, messages: [{ role: 'user', content: 'me too' }] },
        { headers: { 'X-Session-Id': sessionId } },
      )
      .catch((e: unknown) => e);
    expect(busy).toBeInstanceOf(ConflictError);
    expect((busy as ConflictError).message).toContain(
      'A reply is already being generated for this session',
    );
    expect((await running).status).toBe(200);
  });

  it('accepts an access token as well as a key', async () => {
    const completion = await client(alice.token).chat.completions.create({
      model: LOCAL,
      messages: [{ role: 'user', content: 'token auth' }],
    });
    expect(completion.choices[0].message.content).toContain('token auth');
  });

  it('raises RateLimitError with Retry-After once the chat quota is used up', async () => {
    const user = await registerAndLogin(t.url);
    const sdk = client(await createKey(user, ['chat']));
    const ask = () =>
      sdk.chat.completions.create({
        model: LOCAL,
        messages: [{ role: 'user', content: 'q' }],
        max_tokens: 1,
      });
    for (let i = 0; i < QUOTA_PER_MINUTE; i++) await ask();
    const error = await ask().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RateLimitError);
    expect(Number((error as RateLimitError).headers?.get('retry-after'))).toBeGreaterThan(0);
    expect((error as RateLimitError).code).toBe('rate_limit_exceeded');
  });
});
