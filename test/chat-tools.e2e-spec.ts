import { randomBytes } from 'node:crypto';
import { getConnectionToken } from '@nestjs/mongoose';
import type { Connection } from 'mongoose';
import request from 'supertest';
import type { Socket } from 'socket.io-client';
import {
  connectChatSocket,
  describeE2e,
  describeWithServices,
  getSse,
  nextSocketEvent,
  openChatWs,
  postSse,
  registerAndLogin,
  serviceUrl,
  settledMessages,
  simulatedProvidersEnv,
  startAppWithSimulator,
  type AppWithSimulator,
  type LoggedInUser,
  type ProviderSimulator,
} from '@app/testing';
import { UsageLedger } from '../src/usage/usage-ledger';

const GROQ = 'groq/llama-3.1-8b-instant';
const GEMINI = 'gemini/gemini-2.5-flash';
const SONNET = 'anthropic/claude-sonnet-5-5';

const WEATHER = {
  name: 'get_weather',
  description: 'The current weather in a city',
  parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
};
const ASK_WEATHER = 'Weather in Lisbon? [[tool:get_weather {"city": "Lisbon"}]]';

/** The stored form of a client call that still waits for its result. */
const waitingCall = (id: RegExp | string = /^call_\d+$/) => ({
  id: typeof id === 'string' ? id : expect.stringMatching(id),
  name: 'get_weather',
  arguments: '{"city":"Lisbon"}',
  executed_by: 'client',
  result: null,
});

/**
 * Tool calls in /api chat turns through the simulator: a client tool call round-trips on every
 * transport (the call as an event, `finish_reason: "tool_calls"`, the client's `tool_results`
 * continuing the reply, which sees them) and is stored in history; each provider family; the
 * calculator as a server-side tool within one turn; resume and idempotent replays; bad inputs.
 */
describeE2e('chat with tool calls (simulator)', () => {
  let t: AppWithSimulator;
  let sim: ProviderSimulator;
  let user: LoggedInUser;
  let socket: Socket | undefined;

  beforeAll(async () => {
    t = await startAppWithSimulator((url) => ({
      ...simulatedProvidersEnv(url),
      AI_SERVICES__BREAKER_THRESHOLD: '1000',
      TOOLS__SERVER_TOOLS: 'calculator',
      TOOLS__MAX_ROUNDS: '3',
      CHAT__GENERATE_TITLES: 'false',
      SHUTDOWN_GRACE_MS: '0',
    }));
    ({ sim } = t);
    user = await registerAndLogin(t.url);
  });
  afterEach(() => {
    socket?.close();
    sim.reset();
  });
  afterAll(() => t.close());

  const auth = () => ({ Authorization: `Bearer ${user.token}` });
  const chat = (body: object) => request(t.url).post('/api/chat').set(auth()).send(body);
  const history = (sessionId: string) => settledMessages(t, user.token, sessionId);
  /** The conversation the simulator last received, as OpenAI roles. */
  const lastUpstream = () => sim.requests.at(-1)!;

  /** Checks the stored conversation of a finished client round trip. */
  async function expectRoundTripStored(sessionId: string, reply: string) {
    const messages = await history(sessionId);
    expect(messages.map((m: { role: string }) => m.role)).toEqual([
      'user',
      'assistant',
      'assistant',
    ]);
    expect(messages[1]).toMatchObject({
      content: '',
      status: 'complete',
      tool_calls: [{ ...waitingCall(/.+/), result: { content: 'sunny, 21 °C', is_error: false } }],
    });
    expect(messages[2]).toMatchObject({ content: reply, status: 'complete' });
    expect(messages[2].parent_id).toBe(messages[1].id);
    expect(messages[2]).not.toHaveProperty('tool_calls');
  }

  it('plain JSON POST: the call comes back with finish_reason tool_calls, the results continue the reply', async () => {
    const first = await chat({ message: ASK_WEATHER, tools: [WEATHER] }).expect(200);
    expect(first.body).toMatchObject({
      reply: '',
      finish_reason: 'tool_calls',
      model: GROQ,
      tool_calls: [waitingCall()],
    });
    // The client's tool and the deployment's calculator were offered upstream.
    const offered = (lastUpstream().body as { tools: { function: { name: string } }[] }).tools;
    expect(offered.map((tool) => tool.function.name)).toEqual(['get_weather', 'calculator']);
    const { session_id: sessionId } = first.body;
    const stored = await history(sessionId);
    expect(stored[1]).toMatchObject({ tool_calls: [waitingCall()] });

    const second = await chat({
      session_id: sessionId,
      tool_results: [{ tool_call_id: first.body.tool_calls[0].id, content: 'sunny, 21 °C' }],
    }).expect(200);
    expect(second.body).toMatchObject({
      reply: 'Tool results: get_weather=sunny, 21 °C',
      finish_reason: 'stop',
    });
    expect(second.body).not.toHaveProperty('tool_calls');
    // The continuation carried the call and its result in OpenAI's format.
    const messages = (lastUpstream().body as { messages: Record<string, unknown>[] }).messages;
    expect(messages.slice(-2)).toEqual([
      expect.objectContaining({
        role: 'assistant',
        tool_calls: [
          expect.objectContaining({
            id: first.body.tool_calls[0].id,
            function: { name: 'get_weather', arguments: '{"city":"Lisbon"}' },
          }),
        ],
      }),
      expect.objectContaining({
        role: 'tool',
        tool_call_id: first.body.tool_calls[0].id,
        content: 'sunny, 21 °C',
      }),
    ]);
    await expectRoundTripStored(sessionId, 'Tool results: get_weather=sunny, 21 °C');

    // Later turns see the round in their context; the waiting state is over (409).
    await chat({ session_id: sessionId, message: 'thanks' }).expect(200);
    const later = (lastUpstream().body as { messages: { role: string }[] }).messages;
    expect(later.map((m) => m.role)).toEqual(['user', 'assistant', 'tool', 'assistant', 'user']);
    const again = await chat({
      session_id: sessionId,
      tool_results: [{ tool_call_id: first.body.tool_calls[0].id, content: 'x' }],
    }).expect(409);
    expect(again.body).toEqual({
      detail: "The session's active reply is not waiting for tool results",
    });
  });

  it('SSE: tool_call events before done; the continuation streams; a resume replays the call', async () => {
    const stream = await postSse(
      t.url,
      '/api/chat/stream',
      { message: ASK_WEATHER, tools: [WEATHER] },
      { token: user.token },
    );
    const events = await stream.finished;
    expect(events.map((e) => e.event)).toEqual(['start', 'tool_call', 'done']);
    const start = events[0].data;
    const call = events[1].data;
    expect(call).toEqual({
      message_id: start.message_id,
      id: expect.stringMatching(/^call_\d+$/),
      name: 'get_weather',
      arguments: '{"city":"Lisbon"}',
    });
    expect(events[2].data).toMatchObject({ finish_reason: 'tool_calls' });

    const resumed = await getSse(t.url, `/api/chat/stream/${start.message_id}?after=1`, {
      token: user.token,
    });
    const replayed = await resumed.finished;
    expect(replayed.map((e) => [e.id, e.event])).toEqual([
      ['2', 'tool_call'],
      ['3', 'done'],
    ]);
    expect(replayed[0].data).toEqual(call);

    const continued = await postSse(
      t.url,
      '/api/chat/stream',
      {
        session_id: start.session_id,
        tool_results: [{ tool_call_id: call.id, content: 'sunny, 21 °C' }],
      },
      { token: user.token },
    );
    const rest = await continued.finished;
    expect(rest[0].event).toBe('start');
    expect(rest.at(-1)!.event).toBe('done');
    expect(rest.slice(1, -1).every((e) => e.event === 'delta')).toBe(true);
    const text = rest
      .filter((e) => e.event === 'delta')
      .map((e) => e.data.text)
      .join('');
    expect(text).toBe('Tool results: get_weather=sunny, 21 °C');
    await expectRoundTripStored(start.session_id, text);
  });

  it('Socket.IO: chat:tool_call reaches the client, chat:tool_result answers it', async () => {
    socket = await connectChatSocket(t.url, user.token);
    const called = nextSocketEvent(socket, 'chat:tool_call', (p) => p.client_id === 'io1');
    const waiting = nextSocketEvent(socket, 'chat:done', (p) => p.client_id === 'io1');
    const ack = await socket
      .timeout(10_000)
      .emitWithAck('chat:send', { message: ASK_WEATHER, tools: [WEATHER], client_id: 'io1' });
    expect(ack).toMatchObject({ ok: true });
    const call = await called;
    expect(call).toMatchObject({
      message_id: ack.message_id,
      session_id: ack.session_id,
      name: 'get_weather',
      arguments: '{"city":"Lisbon"}',
      seq: 2,
    });
    expect(await waiting).toMatchObject({ finish_reason: 'tool_calls', seq: 3 });

    const done = nextSocketEvent(socket, 'chat:done', (p) => p.client_id === 'io2');
    const answered = await socket.timeout(10_000).emitWithAck('chat:tool_result', {
      session_id: ack.session_id,
      tool_results: [{ tool_call_id: call.id, content: 'sunny, 21 °C' }],
      client_id: 'io2',
    });
    expect(answered).toMatchObject({ ok: true, session_id: ack.session_id });
    expect(await done).toMatchObject({ finish_reason: 'stop' });
    await expectRoundTripStored(ack.session_id, 'Tool results: get_weather=sunny, 21 °C');

    // chat:tool_result needs tool_results.
    const refused = await socket
      .timeout(10_000)
      .emitWithAck('chat:tool_result', { session_id: ack.session_id, message: 'hi' });
    expect(refused).toEqual({
      ok: false,
      status: 400,
      detail: 'tool_results is required',
      errors: [{ field: 'tool_results', message: 'is required' }],
    });
  });

  it('plain WebSocket: a tool_call frame, then a tool_result frame continues the reply', async () => {
    const ws = await openChatWs(t.url, user.token);
    try {
      ws.send({ message: ASK_WEATHER, tools: [WEATHER], client_id: 'w1' });
      const call = await ws.next((f) => f.type === 'tool_call');
      expect(call).toMatchObject({ name: 'get_weather', client_id: 'w1', seq: 2 });
      const waiting = await ws.next((f) => f.type === 'done');
      expect(waiting.finish_reason).toBe('tool_calls');

      ws.send({ type: 'tool_result', session_id: call.session_id, client_id: 'w2' });
      const refused = await ws.next((f) => f.type === 'error');
      expect(refused).toMatchObject({ status: 400, detail: 'tool_results is required' });

      ws.send({
        type: 'tool_result',
        session_id: call.session_id,
        tool_results: [{ tool_call_id: call.id, content: 'sunny, 21 °C' }],
        client_id: 'w2',
      });
      const done = await ws.next((f) => f.type === 'done' && f.client_id === 'w2');
      expect(done.finish_reason).toBe('stop');
      await expectRoundTripStored(call.session_id, 'Tool results: get_weather=sunny, 21 °C');
    } finally {
      await ws.close();
    }
  });

  it.each([
    ['gemini', GEMINI, /.+/],
    ['anthropic', SONNET, /^toolu_\w+$/],
  ])('%s: a client tool call round-trips and is stored', async (_label, model, idPattern) => {
    const first = await chat({ message: ASK_WEATHER, tools: [WEATHER], model }).expect(200);
    expect(first.body).toMatchObject({
      finish_reason: 'tool_calls',
      model,
      tool_calls: [waitingCall(idPattern)],
    });
    const second = await chat({
      session_id: first.body.session_id,
      tool_results: [{ tool_call_id: first.body.tool_calls[0].id, content: 'sunny, 21 °C' }],
    }).expect(200);
    expect(second.body).toMatchObject({
      reply: 'Tool results: get_weather=sunny, 21 °C',
      model,
      finish_reason: 'stop',
    });
    expect(lastUpstream().model).toBe(model.split('/')[1]);
    await expectRoundTripStored(first.body.session_id, 'Tool results: get_weather=sunny, 21 °C');
  });

  it('server-side calculator: called, run and answered within one turn, usage summed and both calls in the ledger', async () => {
    const counted = await registerAndLogin(t.url);
    const stream = await postSse(
      t.url,
      '/api/chat/stream',
      { message: 'What is 6*7? [[tool:calculator {"expression": "6*7"}]]' },
      { token: counted.token },
    );
    const events = await stream.finished;
    const kinds = events.map((e) => e.event);
    expect(kinds.slice(0, 3)).toEqual(['start', 'tool_call', 'tool_result']);
    expect(kinds.at(-1)).toBe('done');
    const start = events[0].data;
    const call = events[1].data;
    expect(events[2].data).toEqual({
      message_id: start.message_id,
      tool_call_id: call.id,
      name: 'calculator',
      content: '42',
      is_error: false,
    });
    const text = events
      .filter((e) => e.event === 'delta')
      .map((e) => e.data.text)
      .join('');
    expect(text).toBe('Tool results: calculator=42');
    const done = events.at(-1)!.data;
    expect(done.finish_reason).toBe('stop');
    // Two model calls, one reply: the usage is their sum.
    expect(sim.requests).toHaveLength(2);
    expect(done.usage.prompt_tokens).toBeGreaterThan(0);

    await t.app.get(UsageLedger).flush();
    const report = await request(t.url)
      .get('/api/usage')
      .set('Authorization', `Bearer ${counted.token}`)
      .expect(200);
    expect(report.body.totals).toMatchObject({ requests: 2, tokens: done.usage.tokens });

    const messages = await settledMessages(t, counted.token, start.session_id);
    expect(messages).toHaveLength(2);
    expect(messages[1]).toMatchObject({
      id: start.message_id,
      content: 'Tool results: calculator=42',
      tool_calls: [
        {
          id: call.id,
          name: 'calculator',
          arguments: '{"expression":"6*7"}',
          executed_by: 'server',
          result: { content: '42', is_error: false },
        },
      ],
      usage: { tokens: done.usage.tokens },
    });
  });

  it('a bad calculator call is an error result the model sees; mixed rounds wait for the client', async () => {
    const first = await chat({
      message:
        'Two things [[tool:calculator {"expression": "1/0"}]] [[tool:get_weather {"city": "Lisbon"}]]',
      tools: [WEATHER],
    }).expect(200);
    expect(first.body.finish_reason).toBe('tool_calls');
    expect(first.body.tool_calls).toEqual([
      {
        id: expect.any(String),
        name: 'calculator',
        arguments: '{"expression":"1/0"}',
        executed_by: 'server',
        result: { content: 'division by zero', is_error: true },
      },
      waitingCall(),
    ]);
    const wrong = await chat({
      session_id: first.body.session_id,
      tool_results: [{ tool_call_id: first.body.tool_calls[0].id, content: 'mine' }],
    }).expect(400);
    expect(wrong.body.detail).toBe(
      `tool_results must answer exactly the waiting calls: missing results for ${first.body.tool_calls[1].id}; ` +
        `no waiting call has the id ${first.body.tool_calls[0].id}`,
    );
    const second = await chat({
      session_id: first.body.session_id,
      tool_results: [
        { tool_call_id: first.body.tool_calls[1].id, content: 'no such city', is_error: true },
      ],
    }).expect(200);
    expect(second.body.reply).toBe(
      'Tool results: calculator=division by zero; get_weather=no such city',
    );
  });

  it('an idempotent retry replays the tool calls as events and answers the same', async () => {
    const key = { 'Idempotency-Key': `tools-${Date.now()}` };
    const body = { message: ASK_WEATHER, tools: [WEATHER] };
    const first = await chat(body).set(key).expect(200);
    const replay = await postSse(t.url, '/api/chat/stream', body, {
      token: user.token,
      headers: key,
    });
    const events = await replay.finished;
    expect(events.map((e) => [e.id, e.event])).toEqual([
      ['1', 'start'],
      ['2', 'tool_call'],
      ['3', 'done'],
    ]);
    expect(events[1].data).toMatchObject({ id: first.body.tool_calls[0].id });
    expect(sim.requests).toHaveLength(1);
  });

  describe('bad inputs', () => {
    let sessionId: string;
    beforeAll(async () => {
      const res = await chat({ message: 'plain' }).expect(200);
      sessionId = res.body.session_id;
    });

    it.each([
      ['tools not a list', { tools: { name: 'x' } }, 'tools must be an array'],
      ['a tool not an object', { tools: ['x'] }, 'tools[0] must be an object'],
      ['a bad name', { tools: [{ name: 'get weather' }] }, 'tools[0].name must be 1 to 64'],
      [
        'a repeated name',
        { tools: [{ name: 'a' }, { name: 'a' }] },
        'tools[1].name repeats the tool name a',
      ],
      [
        "a server-side tool's name",
        { tools: [{ name: 'calculator' }] },
        'tools[0].name calculator is the name of a server-side tool',
      ],
      [
        'parameters without type object',
        { tools: [{ name: 'a', parameters: { type: 'string' } }] },
        'tools[0].parameters must be a JSON Schema object',
      ],
      [
        'parameters over 16 KB',
        { tools: [{ name: 'a', parameters: { type: 'object', description: 'x'.repeat(17_000) } }] },
        'tools[0].parameters must be at most 16384 bytes',
      ],
      [
        'a description over 1024 characters',
        { tools: [{ name: 'a', description: 'd'.repeat(1025) }] },
        'tools[0].description must be a string of at most 1024',
      ],
      [
        'more than 32 tools',
        { tools: Array.from({ length: 33 }, (_, i) => ({ name: `t${i}` })) },
        'tools must have at most 32 tools',
      ],
      ['an unknown tool field', { tools: [{ name: 'a', strict: true }] }, 'tools[0].strict'],
    ])('400 for %s', async (_label, extra, detail) => {
      const res = await chat({ message: 'hi', ...extra }).expect(400);
      expect(res.body.detail).toContain(detail);
    });

    it.each([
      ['without a session', () => ({}), 'session_id is required with tool_results'],
      [
        'with a message',
        () => ({ session_id: sessionId, message: 'hi' }),
        'message must be absent',
      ],
      [
        'with regenerate_of',
        () => ({ session_id: sessionId, regenerate_of: sessionId }),
        'regenerate_of cannot be combined with tool_results',
      ],
    ])('400 for tool_results %s', async (_label, extra, detail) => {
      const res = await chat({
        tool_results: [{ tool_call_id: 'call_1', content: 'x' }],
        ...extra(),
      }).expect(400);
      expect(res.body.detail).toContain(detail);
    });

    it.each([
      ['an empty list', [], 'tool_results must be a non-empty list'],
      ['a missing content', [{ tool_call_id: 'call_1' }], 'tool_results[0].content'],
      [
        'a repeated id',
        [
          { tool_call_id: 'a', content: 'x' },
          { tool_call_id: 'a', content: 'y' },
        ],
        'tool_results[1].tool_call_id repeats a',
      ],
      [
        'is_error not a boolean',
        [{ tool_call_id: 'a', content: 'x', is_error: 'yes' }],
        'tool_results[0].is_error must be a boolean',
      ],
    ])('400 for tool_results with %s', async (_label, results, detail) => {
      const res = await chat({ session_id: sessionId, tool_results: results }).expect(400);
      expect(res.body.detail).toContain(detail);
    });

    it("409 when the session's reply waits on no tool calls; 404 for another user's session", async () => {
      const res = await chat({
        session_id: sessionId,
        tool_results: [{ tool_call_id: 'call_1', content: 'x' }],
      }).expect(409);
      expect(res.body).toEqual({
        detail: "The session's active reply is not waiting for tool results",
      });
      const other = await registerAndLogin(t.url);
      await request(t.url)
        .post('/api/chat')
        .set('Authorization', `Bearer ${other.token}`)
        .send({ session_id: sessionId, tool_results: [{ tool_call_id: 'call_1', content: 'x' }] })
        .expect(404);
    });
  });
});

/** The same round trip with HISTORY_STORE=mongo: the calls and results live on Mongo messages. */
describeWithServices(['mongo'], 'chat with tool calls on the Mongo history store', () => {
  let t: AppWithSimulator;
  let user: LoggedInUser;

  beforeAll(async () => {
    const uri = new URL(serviceUrl('mongo')!);
    uri.pathname = `/tools_e2e_${randomBytes(6).toString('hex')}`;
    t = await startAppWithSimulator({
      HISTORY_STORE: 'mongo',
      MONGO_URI: uri.toString(),
      TOOLS__SERVER_TOOLS: 'calculator',
      CHAT__GENERATE_TITLES: 'false',
    });
    user = await registerAndLogin(t.url);
  });
  afterAll(async () => {
    if (!t) return;
    await t.app.get<Connection>(getConnectionToken()).dropDatabase();
    await t.close();
  });

  it('stores server and client calls with their results, and continues the reply', async () => {
    const chat = (body: object) =>
      request(t.url).post('/api/chat').set('Authorization', `Bearer ${user.token}`).send(body);
    const first = await chat({
      message: `6*7 and ${ASK_WEATHER} [[tool:calculator {"expression": "6*7"}]]`,
      tools: [WEATHER],
    }).expect(200);
    expect(first.body.finish_reason).toBe('tool_calls');
    const [weather, calculator] = first.body.tool_calls;
    await chat({
      session_id: first.body.session_id,
      tool_results: [{ tool_call_id: weather.id, content: 'sunny' }],
    }).expect(200);

    const messages = await settledMessages(t, user.token, first.body.session_id);
    expect(messages[1].tool_calls).toEqual([
      { ...waitingCall(weather.id), result: { content: 'sunny', is_error: false } },
      {
        id: calculator.id,
        name: 'calculator',
        arguments: '{"expression":"6*7"}',
        executed_by: 'server',
        result: { content: '42', is_error: false },
      },
    ]);
    expect(messages[2].content).toBe('Tool results: get_weather=sunny; calculator=42');
  });
});
