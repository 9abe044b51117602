import OpenAI, { BadRequestError } from 'openai';
import type {
  ChatCompletionMessageParam,
  ChatCompletionTool,
} from 'openai/resources/chat/completions';
import request from 'supertest';
import {
  createApiKey,
  describeE2e,
  registerAndLogin,
  simulatedProvidersEnv,
  startAppWithSimulator,
  type AppWithSimulator,
  type LoggedInUser,
} from '@app/testing';
import { expectInvalidRequestBody } from './factories/openai-errors.factory';

const GROQ = 'groq/llama-3.1-8b-instant';
const CLAUDE = 'anthropic/claude-sonnet-5-5';
const GEMINI = 'gemini/gemini-2.5-flash';
const TOOLS: ChatCompletionTool[] = [
  {
    type: 'function',
    function: {
      name: 'get_weather',
      description: 'Current weather of a city',
      parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
    },
  },
  { type: 'function', function: { name: 'get_time' } },
];
const ASK = 'Weather and time? [[tool:get_weather {"city": "Paris"}]] [[tool:get_time]]';

/**
 * Tool calls on `/v1/chat/completions` through the official `openai` Node SDK: the caller's
 * functions reach the provider (the simulator, in each provider's wire format), the model's calls
 * come back as `message.tool_calls` / `delta.tool_calls` as the SDK parses them, and the results
 * sent as `tool` messages reach the provider for the continuation.
 */
describeE2e('/v1 tool calls with the official openai SDK', () => {
  let t: AppWithSimulator;
  let alice: LoggedInUser;
  let client: OpenAI;

  const http = () => request(t.url);

  beforeAll(async () => {
    t = await startAppWithSimulator((url) => ({
      ...simulatedProvidersEnv(url),
      QUOTA__REQUESTS_PER_MINUTE: '1000',
      RATE_LIMIT__DEFAULT_PER_MINUTE: '10000',
      RATE_LIMIT__AUTH_PER_MINUTE: '10000',
    }));
    alice = await registerAndLogin(t.url);
    const apiKey = await createApiKey(t.url, alice.token, ['chat']);
    client = new OpenAI({ apiKey, baseURL: `${t.url}/v1`, maxRetries: 0 });
  });
  afterAll(() => t.close());
  beforeEach(() => t.sim.reset());

  it('non-streamed round trip: tool_calls, then tool messages answered by the continuation', async () => {
    const messages: ChatCompletionMessageParam[] = [{ role: 'user', content: ASK }];
    const first = await client.chat.completions.create({
      model: GROQ,
      messages,
      tools: TOOLS,
      tool_choice: 'auto',
      parallel_tool_calls: true,
    });

    const choice = first.choices[0];
    expect(choice.finish_reason).toBe('tool_calls');
    expect(choice.message.content).toBeNull();
    expect(choice.message.tool_calls).toEqual([
      {
        id: 'call_1',
        type: 'function',
        function: { name: 'get_weather', arguments: '{"city":"Paris"}' },
      },
      { id: 'call_2', type: 'function', function: { name: 'get_time', arguments: '{}' } },
    ]);
    const wire = t.sim.requests[0].body as { tools: unknown; tool_choice: unknown };
    expect(wire.tools).toEqual([
      TOOLS[0],
      {
        type: 'function',
        function: { name: 'get_time', parameters: { type: 'object', properties: {} } },
      },
    ]);
    expect(wire.tool_choice).toBe('auto');

    messages.push(
      choice.message,
      { role: 'tool', tool_call_id: 'call_1', content: 'sunny' },
      { role: 'tool', tool_call_id: 'call_2', content: [{ type: 'text', text: '12:00' }] },
    );
    const second = await client.chat.completions.create({ model: GROQ, messages, tools: TOOLS });
    expect(second.choices[0].finish_reason).toBe('stop');
    expect(second.choices[0].message.content).toBe(
      'Tool results: get_weather=sunny; get_time=12:00',
    );
    expect(second.choices[0].message.tool_calls).toBeUndefined();
    const sent = (t.sim.requests[1].body as { messages: unknown[] }).messages;
    expect(sent.slice(1)).toEqual([
      {
        role: 'assistant',
        content: null,
        tool_calls: choice.message.tool_calls,
      },
      { role: 'tool', tool_call_id: 'call_1', content: 'sunny' },
      { role: 'tool', tool_call_id: 'call_2', content: '12:00' },
    ]);
  });

  it('streamed round trip: the SDK’s stream helper accumulates delta.tool_calls', async () => {
    const stream = client.chat.completions.stream({
      model: GROQ,
      messages: [{ role: 'user', content: ASK }],
      tools: TOOLS,
      stream_options: { include_usage: true },
    });
    const done: string[] = [];
    stream.on('tool_calls.function.arguments.done', (event) =>
      done.push(`${event.name}:${event.arguments}`),
    );
    const final = await stream.finalChatCompletion();

    expect(final.choices[0].finish_reason).toBe('tool_calls');
    const calls = final.choices[0].message.tool_calls ?? [];
    expect(calls.map((call) => call.type === 'function' && [call.id, call.function.name])).toEqual([
      ['call_1', 'get_weather'],
      ['call_2', 'get_time'],
    ]);
    expect(done).toEqual(['get_weather:{"city":"Paris"}', 'get_time:{}']);
    expect(final.usage?.completion_tokens).toBeGreaterThan(0);

    const continued = client.chat.completions.stream({
      model: GROQ,
      tools: TOOLS,
      messages: [
        { role: 'user', content: ASK },
        final.choices[0].message as ChatCompletionMessageParam,
        { role: 'tool', tool_call_id: 'call_1', content: 'sunny' },
        { role: 'tool', tool_call_id: 'call_2', content: 'noon' },
      ],
    });
    expect(await continued.finalContent()).toBe('Tool results: get_weather=sunny; get_time=noon');
  });

  it('the raw stream carries each call in a delta.tool_calls chunk with index, id and type', async () => {
    const res = await http()
      .post('/v1/chat/completions')
      .set('Authorization', `Bearer ${alice.token}`)
      .send({ model: GROQ, messages: [{ role: 'user', content: ASK }], tools: TOOLS, stream: true })
      .expect(200);
    const chunks = res.text
      .split('\n\n')
      .filter((line) => line.startsWith('data: {'))
      .map(
        (line) =>
          JSON.parse(line.slice(6)) as {
            choices: { delta: never; finish_reason: string | null }[];
          },
      );
    const deltas = chunks.map((chunk) => chunk.choices[0]?.delta as Record<string, unknown>);
    expect(deltas.filter((delta) => delta.tool_calls)).toEqual([
      {
        tool_calls: [
          {
            index: 0,
            id: 'call_1',
            type: 'function',
            function: { name: 'get_weather', arguments: '{"city":"Paris"}' },
          },
        ],
      },
      {
        tool_calls: [
          {
            index: 1,
            id: 'call_2',
            type: 'function',
            function: { name: 'get_time', arguments: '{}' },
          },
        ],
      },
    ]);
    expect(chunks.at(-1)?.choices[0].finish_reason).toBe('tool_calls');
    expect(res.text.trimEnd().endsWith('data: [DONE]')).toBe(true);
  });

  it.each([
    ['Anthropic', CLAUDE],
    ['Gemini', GEMINI],
  ])(
    'round-trips through %s: its own wire format upstream, OpenAI’s shape here',
    async (_label, model) => {
      const first = await client.chat.completions.create({
        model,
        messages: [{ role: 'user', content: ASK }],
        tools: TOOLS,
        tool_choice: { type: 'function', function: { name: 'get_weather' } },
      });
      const calls = first.choices[0].message.tool_calls ?? [];
      expect(first.choices[0].finish_reason).toBe('tool_calls');
      expect(calls.map((call) => call.type === 'function' && call.function)).toEqual([
        { name: 'get_weather', arguments: '{"city":"Paris"}' },
        { name: 'get_time', arguments: '{}' },
      ]);
      expect(t.sim.requests[0].api).toBe(model === CLAUDE ? 'anthropic' : 'gemini');

      const second = await client.chat.completions.create({
        model,
        tools: TOOLS,
        messages: [
          { role: 'user', content: ASK },
          first.choices[0].message,
          { role: 'tool', tool_call_id: calls[0].id, content: 'sunny' },
          { role: 'tool', tool_call_id: calls[1].id, content: 'noon' },
        ],
      });
      expect(second.choices[0].message.content).toBe(
        'Tool results: get_weather=sunny; get_time=noon',
      );
    },
  );

  it('the local provider offers no tool calling: it answers in text as usual', async () => {
    const reply = await client.chat.completions.create({
      model: 'local/echo',
      messages: [{ role: 'user', content: ASK }],
      tools: TOOLS,
    });
    expect(reply.choices[0].finish_reason).toBe('stop');
    expect(reply.choices[0].message.tool_calls).toBeUndefined();
    expect(reply.choices[0].message.content).toContain('Weather and time?');
  });

  const call = { id: 'call_1', type: 'function', function: { name: 'get_time', arguments: '{}' } };
  /** Each row: the request's change, and the message its 400 names. */
  const invalid: [Record<string, unknown>, string][] = [
    [
      { tools: [{ name: 'get_time' }] },
      'tools[0] must be {"type": "function", "function": {"name": …}}',
    ],
    [{ tools: 'get_time' }, 'tools must be an array'],
    [
      { tools: [{ type: 'function', function: { name: 'bad name!' } }] },
      'tools[0].function.name must match ^[a-zA-Z0-9_-]{1,64}$',
    ],
    [{ tools: [TOOLS[1], TOOLS[1]] }, 'tools[1].function.name repeats "get_time"'],
    [
      { tools: [{ type: 'function', function: { name: 'x', parameters: { type: 'string' } } }] },
      'tools[0].function.parameters must be a JSON Schema object with "type": "object"',
    ],
    [
      { tools: [{ type: 'function', function: { name: 'x', description: 'd'.repeat(1025) } }] },
      'tools[0].function.description must be a string of at most 1024 characters',
    ],
    [{ tool_choice: 'auto' }, 'tool_choice is only allowed when tools are specified'],
    [{ tools: TOOLS, tool_choice: 'always' }, 'tool_choice must be "none", "auto", "required"'],
    [
      { tools: TOOLS, tool_choice: { type: 'function', function: { name: 'nope' } } },
      'tool_choice names "nope", which is not one of the tools',
    ],
    [{ tools: TOOLS, parallel_tool_calls: 'yes' }, 'parallel_tool_calls must be a boolean value'],
    [
      {
        messages: [
          { role: 'user', content: 'q' },
          { role: 'tool', content: 'r' },
        ],
      },
      'messages[1].tool_call_id is required on a tool message',
    ],
    [
      {
        messages: [
          { role: 'user', content: 'q' },
          { role: 'assistant', content: null, tool_calls: [call] },
          { role: 'tool', tool_call_id: 'call_9', content: 'r' },
        ],
      },
      'messages[2].tool_call_id must answer a call of the assistant message before it',
    ],
    [
      {
        messages: [
          { role: 'user', content: 'q' },
          { role: 'assistant', content: null, tool_calls: [call] },
          { role: 'user', content: 'again' },
        ],
      },
      'messages[1].tool_calls must each be answered by a tool message before the next message; no answer for call_1',
    ],
    [
      {
        messages: [
          { role: 'user', content: 'q' },
          { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function' }] },
        ],
      },
      'messages[1].tool_calls[0] must be {"id": …, "type": "function", "function": {"name": …, "arguments": "<JSON text>"}}',
    ],
    [
      { store: true, tools: TOOLS, tool_choice: 'required' },
      'tool_choice cannot be used when the exchange is stored',
    ],
    [
      {
        store: true,
        tools: TOOLS,
        messages: [
          { role: 'user', content: 'q' },
          { role: 'assistant', content: null, tool_calls: [call] },
          { role: 'tool', tool_call_id: 'call_1', content: '18 °C' },
        ],
      },
      'tool results continue a stored session: send its id in X-Session-Id',
    ],
  ];
  it.each(invalid.map(([patch, message]) => [message, patch] as const))(
    '400 in OpenAI’s error shape with detail: %s',
    async (message, patch) => {
      const body = { model: GROQ, messages: [{ role: 'user', content: 'hi' }], ...patch };
      const error = await client.chat.completions.create(body as never).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(BadRequestError);
      const raw = await http()
        .post('/v1/chat/completions')
        .set('Authorization', `Bearer ${alice.token}`)
        .send(body)
        .expect(400);
      expectInvalidRequestBody(raw.body, message);
      expect(t.sim.requests).toHaveLength(0);
    },
  );

  it('counts a description in characters as /api does: 1024 emoji (2048 UTF-16 units) pass', async () => {
    const description = '🌦'.repeat(1024);
    const tools = [{ type: 'function' as const, function: { name: 'get_weather', description } }];
    const reply = await client.chat.completions.create({
      model: GROQ,
      messages: [{ role: 'user', content: 'hi' }],
      tools,
    });
    expect(reply.choices[0].finish_reason).toBe('stop');
    const wire = t.sim.requests[0].body as { tools: { function: { description: string } }[] };
    expect(wire.tools[0].function.description).toBe(description);
    await http()
      .post('/v1/chat/completions')
      .set('Authorization', `Bearer ${alice.token}`)
      .send({
        model: GROQ,
        messages: [{ role: 'user', content: 'hi' }],
        tools: [{ type: 'function', function: { name: 'x', description: description + '🌦' } }],
      })
      .expect(400);
  });

  it('stored mode: the calls are stored with the reply, the tool messages continue the session', async () => {
    const messages: ChatCompletionMessageParam[] = [{ role: 'user', content: ASK }];
    const first = await client.chat.completions
      .create({ model: GROQ, messages, tools: TOOLS, store: true })
      .withResponse();
    const sessionId = first.response.headers.get('x-session-id')!;
    const choice = first.data.choices[0];
    expect(choice.finish_reason).toBe('tool_calls');
    const calls = choice.message.tool_calls!;
    expect(calls.map((c) => c.type === 'function' && c.function.name)).toEqual([
      'get_weather',
      'get_time',
    ]);

    messages.push(
      choice.message,
      ...calls.map((call, i) => ({
        role: 'tool' as const,
        tool_call_id: call.id,
        content: ['18 °C', '12:00'][i],
      })),
    );
    const second = await client.chat.completions
      .create({ model: GROQ, messages, tools: TOOLS }, { headers: { 'X-Session-Id': sessionId } })
      .withResponse();
    expect(second.response.headers.get('x-session-id')).toBe(sessionId);
    expect(second.data.choices[0].message.content).toBe(
      'Tool results: get_weather=18 °C; get_time=12:00',
    );

    const session = await http()
      .get(`/api/history/${sessionId}`)
      .set('Authorization', `Bearer ${alice.token}`)
      .expect(200);
    const [, withCalls, answer] = session.body.messages;
    expect(withCalls.tool_calls).toEqual([
      expect.objectContaining({
        id: calls[0].id,
        name: 'get_weather',
        executed_by: 'client',
        result: { content: '18 °C', is_error: false },
      }),
      expect.objectContaining({
        id: calls[1].id,
        name: 'get_time',
        executed_by: 'client',
        result: { content: '12:00', is_error: false },
      }),
    ]);
    expect(answer.content).toBe('Tool results: get_weather=18 °C; get_time=12:00');
  });

  it('stored mode keeps working without tools', async () => {
    const res = await http()
      .post('/v1/chat/completions')
      .set('Authorization', `Bearer ${alice.token}`)
      .send({ model: GROQ, store: true, messages: [{ role: 'user', content: 'remember me' }] })
      .expect(200);
    expect(res.headers['x-session-id']).toEqual(expect.any(String));
    expect(res.body.choices[0].message.content).toBe('Simulated reply to: remember me');
  });
});
