import type {
  ProviderMessage,
  ToolCall,
  ToolDefinition,
} from '../src/providers/chat-provider.interface';
import type { GenerationEvent } from '../src/providers/generation.types';
import type { ProvidersService } from '../src/providers/providers.service';
import { drain, providersFor, simulatorForFile } from './factories/provider-layer.factory';

/**
 * Tool calls through each adapter and the resilience layer, on the wire: the real `openai`,
 * `@google/genai` and `@anthropic-ai/sdk` talk to the provider simulator, which answers
 * `[[tool:NAME {args}]]` markers with calls and tool results with `Tool results: NAME=CONTENT`.
 */

const TOOLS: ToolDefinition[] = [
  {
    name: 'get_weather',
    description: 'Current weather of a city',
    parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
  },
  { name: 'get_time', parameters: { type: 'object', properties: {} } },
];
const ASK: ProviderMessage[] = [
  { role: 'system', content: 'You are terse.' },
  {
    role: 'user',
    content: 'Weather and time? [[tool:get_weather {"city": "Paris"}]] [[tool:get_time]]',
  },
];
const EXPECTED = [
  { name: 'get_weather', arguments: '{"city":"Paris"}' },
  { name: 'get_time', arguments: '{}' },
];

const simulator = simulatorForFile();
const { sim } = simulator;

type Body = Record<string, unknown>;

/** What differs per provider: how it is configured and what its wire format looks like. */
interface ProviderCase {
  label: string;
  model: string;
  env: () => Record<string, string>;
  /** The tools and tool choice as the request body must carry them. */
  expectToolsOnWire(body: Body): void;
  /** The answered round (calls then results) as the continuation's body must carry it. */
  expectRoundOnWire(body: Body, calls: ToolCall[]): void;
  /** Ids follow the provider's scheme. */
  idPattern: RegExp;
}

const CASES: ProviderCase[] = [
  {
    label: 'OpenAI-compatible (groq) through openai',
    model: 'groq/llama-3.1-8b-instant',
    env: () => ({
      AI_SERVICES__GROQ_API_KEY: 'groq-key',
      AI_SERVICES__GROQ_BASE_URL: `${simulator.url}/openai/v1`,
    }),
    idPattern: /^call_\d+$/,
    expectToolsOnWire(body) {
      expect(body.tools).toEqual([
        {
          type: 'function',
          function: {
            name: 'get_weather',
            description: 'Current weather of a city',
            parameters: TOOLS[0].parameters,
          },
        },
        { type: 'function', function: { name: 'get_time', parameters: TOOLS[1].parameters } },
      ]);
      expect(body.tool_choice).toBe('auto');
    },
    expectRoundOnWire(body, calls) {
      const messages = body.messages as Body[];
      expect(messages.slice(-3)).toEqual([
        {
          role: 'assistant',
          content: null,
          tool_calls: calls.map((call) => ({
            id: call.id,
            type: 'function',
            function: { name: call.name, arguments: call.arguments },
          })),
        },
        { role: 'tool', tool_call_id: calls[0].id, content: 'sunny' },
        { role: 'tool', tool_call_id: calls[1].id, content: 'clock broken' },
      ]);
    },
  },
  {
    label: 'Gemini through @google/genai',
    model: 'gemini/gemini-2.5-flash',
    env: () => ({
      AI_SERVICES__GEMINI_API_KEY: 'gemini-key',
      AI_SERVICES__GEMINI_BASE_URL: simulator.url,
    }),
    idPattern: /^call_[0-9a-f]{24}$/,
    expectToolsOnWire(body) {
      expect(body.tools).toEqual([
        {
          functionDeclarations: [
            {
              name: 'get_weather',
              description: 'Current weather of a city',
              parametersJsonSchema: TOOLS[0].parameters,
            },
            { name: 'get_time', parametersJsonSchema: TOOLS[1].parameters },
          ],
        },
      ]);
      expect(body.toolConfig).toEqual({ functionCallingConfig: { mode: 'AUTO' } });
    },
    expectRoundOnWire(body) {
      const contents = body.contents as Body[];
      expect(contents.slice(-2)).toEqual([
        {
          role: 'model',
          parts: [
            { functionCall: { name: 'get_weather', args: { city: 'Paris' } } },
            { functionCall: { name: 'get_time', args: {} } },
          ],
        },
        {
          role: 'user',
          parts: [
            { functionResponse: { name: 'get_weather', response: { output: 'sunny' } } },
            { functionResponse: { name: 'get_time', response: { error: 'clock broken' } } },
          ],
        },
      ]);
    },
  },
  {
    label: 'Anthropic through @anthropic-ai/sdk',
    model: 'anthropic/claude-sonnet-5-5',
    env: () => ({
      AI_SERVICES__ANTHROPIC_API_KEY: 'ant-key',
      AI_SERVICES__ANTHROPIC_BASE_URL: simulator.url,
    }),
    idPattern: /^toolu_\d+$/,
    expectToolsOnWire(body) {
      expect(body.tools).toEqual([
        {
          name: 'get_weather',
          description: 'Current weather of a city',
          input_schema: TOOLS[0].parameters,
        },
        { name: 'get_time', input_schema: TOOLS[1].parameters },
      ]);
      expect(body.tool_choice).toEqual({ type: 'auto' });
    },
    expectRoundOnWire(body, calls) {
      const messages = body.messages as Body[];
      expect(messages.slice(-2)).toEqual([
        {
          role: 'assistant',
          content: [
            { type: 'tool_use', id: calls[0].id, name: 'get_weather', input: { city: 'Paris' } },
            { type: 'tool_use', id: calls[1].id, name: 'get_time', input: {} },
          ],
        },
        {
          role: 'user',
          content: [
            { type: 'tool_result', tool_use_id: calls[0].id, content: 'sunny' },
            {
              type: 'tool_result',
              tool_use_id: calls[1].id,
              content: 'clock broken',
              is_error: true,
            },
          ],
        },
      ]);
    },
  },
];

const callsOf = (events: GenerationEvent[]) =>
  events.flatMap((event) => (event.type === 'tool_call' ? [event.call] : []));

/** The conversation after the model's calls: the calls, then one result and one failure. */
function answered(calls: ToolCall[]): ProviderMessage[] {
  return [
    ...ASK,
    { role: 'assistant', content: '', toolCalls: calls },
    { role: 'tool', content: 'sunny', toolCallId: calls[0].id, toolName: calls[0].name },
    {
      role: 'tool',
      content: 'clock broken',
      toolCallId: calls[1].id,
      toolName: calls[1].name,
      toolError: true,
    },
  ];
}

describe.each(CASES)('tool calls: $label', (provider) => {
  let sut: ProvidersService;
  beforeEach(() => {
    sut = providersFor({ ...provider.env(), AI_SERVICES__MAX_RETRIES: '0' });
  });
  const askForCalls = () =>
    sut.complete({ model: provider.model, messages: ASK, tools: TOOLS, toolChoice: 'auto' });

  it('non-streamed: the tools reach the provider in its format and the calls come back whole', async () => {
    const result = await askForCalls();

    expect(result.finishReason).toBe('tool_calls');
    expect(result.text).toBe('');
    expect(
      result.toolCalls?.map(({ name, arguments: args }) => ({ name, arguments: args })),
    ).toEqual(EXPECTED);
    for (const call of result.toolCalls ?? []) expect(call.id).toMatch(provider.idPattern);
    expect(sim.requests).toHaveLength(1);
    expect(sim.requests[0].stream).toBe(false);
    provider.expectToolsOnWire(sim.requests[0].body as Body);
  });

  it('streamed: fragments are assembled into whole tool_call events before done', async () => {
    const { events, error } = await drain(
      sut.stream({ model: provider.model, messages: ASK, tools: TOOLS, toolChoice: 'auto' }),
    );

    expect(error).toBeUndefined();
    expect(sim.requests[0].stream).toBe(true);
    expect(events.map((event) => event.type)).toEqual(['start', 'tool_call', 'tool_call', 'done']);
    const calls = callsOf(events);
    expect(calls.map(({ name, arguments: args }) => ({ name, arguments: args }))).toEqual(EXPECTED);
    expect(new Set(calls.map((call) => call.id)).size).toBe(2);
    expect(events.at(-1)).toMatchObject({ type: 'done', finishReason: 'tool_calls' });
    provider.expectToolsOnWire(sim.requests[0].body as Body);
  });

  it('the results go back in the provider’s format and the continuation answers them', async () => {
    const first = await askForCalls();
    const calls = first.toolCalls ?? [];
    expect(calls).toHaveLength(2);

    const { events, error } = await drain(
      sut.stream({ model: provider.model, messages: answered(calls), tools: TOOLS }),
    );

    expect(error).toBeUndefined();
    expect(events.map((e) => (e.type === 'delta' ? e.text : '')).join('')).toBe(
      'Tool results: get_weather=sunny; get_time=clock broken',
    );
    expect(events.at(-1)).toMatchObject({ type: 'done', finishReason: 'stop' });
    expect(callsOf(events)).toEqual([]);
    provider.expectRoundOnWire(sim.requests[1].body as Body, calls);
  });

  it('a marker for a tool that is not offered gets a plain reply, and no tools means none on the wire', async () => {
    const result = await sut.complete({
      model: provider.model,
      messages: [{ role: 'user', content: '[[tool:get_weather {"city": "Oslo"}]]' }],
    });

    expect(result.toolCalls).toBeUndefined();
    expect(result.finishReason).toBe('stop');
    expect(result.text).toContain('Simulated reply to:');
    const body = sim.requests[0].body as Body;
    expect(body.tools).toBeUndefined();
  });
});

describe('tool choice on each wire', () => {
  const wireChoice = async (
    provider: ProviderCase,
    toolChoice: 'none' | 'required' | { name: string },
  ) => {
    sim.reset();
    const sut = providersFor({ ...provider.env(), AI_SERVICES__MAX_RETRIES: '0' });
    await sut.complete({ model: provider.model, messages: ASK, tools: TOOLS, toolChoice });
    const body = sim.requests[0].body as Body;
    return body.tool_choice ?? body.toolConfig;
  };

  it('maps none, required and a named tool to each API’s own form', async () => {
    const [openai, gemini, anthropic] = CASES;
    expect(await wireChoice(openai, 'required')).toBe('required');
    expect(await wireChoice(openai, { name: 'get_time' })).toEqual({
      type: 'function',
      function: { name: 'get_time' },
    });
    expect(await wireChoice(gemini, 'none')).toEqual({ functionCallingConfig: { mode: 'NONE' } });
    expect(await wireChoice(gemini, { name: 'get_time' })).toEqual({
      functionCallingConfig: { mode: 'ANY', allowedFunctionNames: ['get_time'] },
    });
    expect(await wireChoice(anthropic, 'required')).toEqual({ type: 'any' });
    expect(await wireChoice(anthropic, { name: 'get_time' })).toEqual({
      type: 'tool',
      name: 'get_time',
    });
  });

  it('with tool choice none the simulated model answers in text (OpenAI)', async () => {
    const sut = providersFor({ ...CASES[0].env(), AI_SERVICES__MAX_RETRIES: '0' });
    const result = await sut.complete({
      model: CASES[0].model,
      messages: ASK,
      tools: TOOLS,
      toolChoice: 'none',
    });
    expect(result.toolCalls).toBeUndefined();
    expect(result.text).toContain('Simulated reply to:');
  });
});

describe('Anthropic prompt caching with tool rounds', () => {
  it('still marks the stable prefix (ending in a tool_result) and reads it on the next request', async () => {
    const provider = CASES[2];
    const sut = providersFor({ ...provider.env(), AI_SERVICES__MAX_RETRIES: '0' });
    const longSystem = `You are careful. ${'Follow the house style in every answer. '.repeat(120)}`;
    const ask: ProviderMessage[] = [{ role: 'system', content: longSystem }, ASK[1]];
    const first = await sut.complete({ model: provider.model, messages: ask, tools: TOOLS });
    const calls = first.toolCalls ?? [];
    const round: ProviderMessage[] = [
      ...ask,
      { role: 'assistant', content: '', toolCalls: calls },
      ...calls.map((call): ProviderMessage => ({
        role: 'tool',
        content: 'ok',
        toolCallId: call.id,
        toolName: call.name,
      })),
    ];
    const continued = await sut.complete({ model: provider.model, messages: round, tools: TOOLS });
    await sut.complete({
      model: provider.model,
      messages: [
        ...round,
        { role: 'assistant', content: continued.text },
        { role: 'user', content: 'thanks' },
      ],
      tools: TOOLS,
    });

    type Sent = { messages: { content: { type: string; cache_control?: unknown }[] }[] };
    const sent = (index: number) => (sim.requests[index].body as Sent).messages;
    // The continuation's stable prefix ends with the calls; the next request reads it back.
    expect(sent(1)[1].content.at(-1)).toMatchObject({
      type: 'tool_use',
      cache_control: { type: 'ephemeral' },
    });
    expect(sent(2)[2].content.map((block) => block.type)).toEqual(['tool_result', 'tool_result']);
    expect(sim.requests[2].cache?.readTokens).toBeGreaterThan(
      sim.requests[1].cache?.readTokens ?? 0,
    );
  });
});
