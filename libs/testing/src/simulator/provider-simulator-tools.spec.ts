import Anthropic from '@anthropic-ai/sdk';
import { GoogleGenAI } from '@google/genai';
import OpenAI from 'openai';
import { ProviderSimulator } from './provider-simulator';

/** The simulator's tool-call contract, read back through each provider's official SDK. */
describe('ProviderSimulator tool calls', () => {
  const simulator = new ProviderSimulator();
  let openai: OpenAI;
  let gemini: GoogleGenAI;
  let anthropic: Anthropic;
  const ask = 'Weather? [[tool:get_weather {"city": "Paris"}]] [[tool:get_time {"tz": "CET"}]]';

  beforeAll(async () => {
    const url = await simulator.start();
    openai = new OpenAI({ apiKey: 'k', baseURL: `${url}/v1`, maxRetries: 0 });
    // Global fetch: the SDK's default undici dispatcher is not reachable inside jest's VM.
    gemini = new GoogleGenAI({
      apiKey: 'k',
      httpOptions: { baseUrl: url, fetch: (input, init) => fetch(input, init) },
    });
    anthropic = new Anthropic({ apiKey: 'k', baseURL: url, maxRetries: 0 });
  });
  afterAll(() => simulator.stop());
  beforeEach(() => simulator.reset());

  describe('OpenAI chat completions', () => {
    const tools: OpenAI.ChatCompletionTool[] = ['get_weather', 'get_time'].map((name) => ({
      type: 'function',
      function: { name, parameters: { type: 'object', properties: {} } },
    }));

    it('answers markers with tool calls, JSON and streamed in fragments', async () => {
      const whole = await openai.chat.completions.create({
        model: 'm',
        messages: [{ role: 'user', content: ask }],
        tools,
      });
      expect(whole.choices[0].finish_reason).toBe('tool_calls');
      expect(whole.choices[0].message.content).toBeNull();
      expect(whole.choices[0].message.tool_calls).toEqual([
        {
          id: 'call_1',
          type: 'function',
          function: { name: 'get_weather', arguments: '{"city":"Paris"}' },
        },
        {
          id: 'call_2',
          type: 'function',
          function: { name: 'get_time', arguments: '{"tz":"CET"}' },
        },
      ]);

      const stream = openai.chat.completions.stream({
        model: 'm',
        messages: [{ role: 'user', content: ask }],
        tools,
      });
      const fragments: string[] = [];
      for await (const chunk of stream) {
        for (const call of chunk.choices[0]?.delta.tool_calls ?? []) {
          if (call.index === 0 && call.function?.arguments) fragments.push(call.function.arguments);
        }
      }
      const final = await stream.finalChatCompletion();
      expect(fragments.length).toBeGreaterThanOrEqual(2);
      expect(final.choices[0].finish_reason).toBe('tool_calls');
      expect(
        final.choices[0].message.tool_calls?.map((c) => c.type === 'function' && c.function),
      ).toEqual([
        { name: 'get_weather', arguments: '{"city":"Paris"}' },
        { name: 'get_time', arguments: '{"tz":"CET"}' },
      ]);
      expect(final.choices[0].message.tool_calls?.map((c) => c.id)).toEqual(['call_3', 'call_4']);
    });

    it('answers tool results with the deterministic summary, and ignores unoffered markers', async () => {
      const reply = await openai.chat.completions.create({
        model: 'm',
        tools,
        messages: [
          { role: 'user', content: ask },
          {
            role: 'assistant',
            content: null,
            tool_calls: [
              {
                id: 'call_1',
                type: 'function',
                function: { name: 'get_weather', arguments: '{}' },
              },
              { id: 'call_2', type: 'function', function: { name: 'get_time', arguments: '{}' } },
            ],
          },
          { role: 'tool', tool_call_id: 'call_1', content: 'sunny' },
          { role: 'tool', tool_call_id: 'call_2', content: '12:00' },
        ],
      });
      expect(reply.choices[0].message.content).toBe(
        'Tool results: get_weather=sunny; get_time=12:00',
      );
      expect(reply.choices[0].finish_reason).toBe('stop');

      const unoffered = await openai.chat.completions.create({
        model: 'm',
        messages: [{ role: 'user', content: '[[tool:delete_all {}]]' }],
        tools,
      });
      expect(unoffered.choices[0].message.tool_calls).toBeUndefined();
      expect(unoffered.choices[0].message.content).toBe(
        'Simulated reply to: [[tool:delete_all {}]]',
      );
    });
  });

  describe('Gemini generateContent', () => {
    const config = {
      tools: [
        {
          functionDeclarations: [
            { name: 'get_weather', parametersJsonSchema: { type: 'object' } },
            { name: 'get_time', parametersJsonSchema: { type: 'object' } },
          ],
        },
      ],
    };

    it('answers markers with functionCall parts, JSON and streamed', async () => {
      const whole = await gemini.models.generateContent({ model: 'g', contents: ask, config });
      expect(whole.functionCalls).toEqual([
        { name: 'get_weather', args: { city: 'Paris' } },
        { name: 'get_time', args: { tz: 'CET' } },
      ]);
      expect(whole.candidates?.[0].finishReason).toBe('STOP');

      const calls: unknown[] = [];
      for await (const chunk of await gemini.models.generateContentStream({
        model: 'g',
        contents: ask,
        config,
      })) {
        calls.push(...(chunk.functionCalls ?? []));
      }
      expect(calls).toEqual(whole.functionCalls);
    });

    it('answers functionResponse parts with the summary', async () => {
      const reply = await gemini.models.generateContent({
        model: 'g',
        config,
        contents: [
          { role: 'user', parts: [{ text: ask }] },
          { role: 'model', parts: [{ functionCall: { name: 'get_weather', args: {} } }] },
          {
            role: 'user',
            parts: [{ functionResponse: { name: 'get_weather', response: { output: 'sunny' } } }],
          },
        ],
      });
      expect(reply.text).toBe('Tool results: get_weather=sunny');
    });
  });

  describe('Anthropic messages', () => {
    const tools: Anthropic.Tool[] = ['get_weather', 'get_time'].map((name) => ({
      name,
      input_schema: { type: 'object' },
    }));

    it('answers markers with tool_use blocks, JSON and streamed as input_json_delta', async () => {
      const whole = await anthropic.messages.create({
        model: 'claude',
        max_tokens: 100,
        tools,
        messages: [{ role: 'user', content: ask }],
      });
      expect(whole.stop_reason).toBe('tool_use');
      expect(whole.content).toEqual([
        { type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: { city: 'Paris' } },
        { type: 'tool_use', id: 'toolu_2', name: 'get_time', input: { tz: 'CET' } },
      ]);

      const stream = anthropic.messages.stream({
        model: 'claude',
        max_tokens: 100,
        tools,
        messages: [{ role: 'user', content: ask }],
      });
      let jsonDeltas = 0;
      stream.on('inputJson', () => (jsonDeltas += 1));
      const final = await stream.finalMessage();
      expect(jsonDeltas).toBeGreaterThanOrEqual(4);
      expect(final.stop_reason).toBe('tool_use');
      expect(final.content.map((b) => b.type === 'tool_use' && [b.id, b.name, b.input])).toEqual([
        ['toolu_3', 'get_weather', { city: 'Paris' }],
        ['toolu_4', 'get_time', { tz: 'CET' }],
      ]);
    });

    it('answers tool_result blocks with the summary and refuses unanswered tool_use', async () => {
      const use: Anthropic.MessageParam = {
        role: 'assistant',
        content: [{ type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: {} }],
      };
      const reply = await anthropic.messages.create({
        model: 'claude',
        max_tokens: 100,
        tools,
        messages: [
          { role: 'user', content: ask },
          use,
          {
            role: 'user',
            content: [
              { type: 'tool_result', tool_use_id: 'toolu_1', content: 'rain', is_error: true },
            ],
          },
        ],
      });
      expect(reply.content).toEqual([{ type: 'text', text: 'Tool results: get_weather=rain' }]);

      await expect(
        anthropic.messages.create({
          model: 'claude',
          max_tokens: 100,
          tools,
          messages: [{ role: 'user', content: ask }, use, { role: 'user', content: 'next' }],
        }),
      ).rejects.toMatchObject({ status: 400 });
    });
  });
});
