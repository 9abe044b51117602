import * as sim from './tool-calls';

describe('simulator tool calls', () => {
  describe('offeredToolNames', () => {
    it('reads each API’s tool list', () => {
      expect(
        sim.offeredToolNames('openai', {
          tools: [{ type: 'function', function: { name: 'get_weather' } }],
        }),
      ).toEqual(['get_weather']);
      expect(
        sim.offeredToolNames('gemini', {
          tools: [{ functionDeclarations: [{ name: 'a' }, { name: 'b' }] }],
        }),
      ).toEqual(['a', 'b']);
      expect(
        sim.offeredToolNames('anthropic', { tools: [{ name: 'c', input_schema: {} }] }),
      ).toEqual(['c']);
    });

    it('offers nothing when the request forbids calls', () => {
      const tools = [{ type: 'function', function: { name: 'x' } }];
      expect(sim.offeredToolNames('openai', { tools, tool_choice: 'none' })).toEqual([]);
      expect(
        sim.offeredToolNames('gemini', {
          tools: [{ functionDeclarations: [{ name: 'x' }] }],
          toolConfig: { functionCallingConfig: { mode: 'NONE' } },
        }),
      ).toEqual([]);
      expect(
        sim.offeredToolNames('anthropic', {
          tools: [{ name: 'x', input_schema: {} }],
          tool_choice: { type: 'none' },
        }),
      ).toEqual([]);
      expect(sim.offeredToolNames('openai', { messages: [] })).toEqual([]);
    });
  });

  describe('requestedToolCalls', () => {
    it('turns markers of offered tools into calls, in order, with compact JSON arguments', () => {
      const text =
        'Please [[tool:get_weather {"city": "Paris", "days": [1, 2]}]] and [[tool:time]] then [[tool:nested {"a": {"b": 1}}]]';
      expect(sim.requestedToolCalls(text, ['get_weather', 'time', 'nested'])).toEqual([
        { id: '', name: 'get_weather', arguments: '{"city":"Paris","days":[1,2]}' },
        { id: '', name: 'time', arguments: '{}' },
        { id: '', name: 'nested', arguments: '{"a":{"b":1}}' },
      ]);
    });

    it('ignores markers of tools not offered and arguments that are not a JSON object', () => {
      expect(sim.requestedToolCalls('[[tool:other {"a": 1}]]', ['mine'])).toEqual([]);
      expect(sim.requestedToolCalls('[[tool:mine {not json}]]', ['mine'])).toEqual([]);
      expect(sim.requestedToolCalls('no markers here', ['mine'])).toEqual([]);
    });
  });

  it('answers tool results with their names and contents', () => {
    expect(
      sim.toolResultsReply([
        { name: 'a', content: '1' },
        { name: 'b', content: 'two' },
      ]),
    ).toBe('Tool results: a=1; b=two');
  });

  describe('trailingToolResults', () => {
    it('reads OpenAI tool messages after the last assistant tool-call turn', () => {
      const body = {
        messages: [
          { role: 'user', content: 'hi' },
          {
            role: 'assistant',
            content: null,
            tool_calls: [
              { id: 'call_1', type: 'function', function: { name: 'a', arguments: '{}' } },
              { id: 'call_2', type: 'function', function: { name: 'b', arguments: '{}' } },
            ],
          },
          { role: 'tool', tool_call_id: 'call_1', content: '1' },
          { role: 'tool', tool_call_id: 'call_2', content: [{ type: 'text', text: 'two' }] },
        ],
      };
      expect(sim.trailingToolResults('openai', body)).toEqual([
        { name: 'a', content: '1' },
        { name: 'b', content: 'two' },
      ]);
      expect(
        sim.trailingToolResults('openai', {
          messages: [...body.messages, { role: 'user', content: 'x' }],
        }),
      ).toBeUndefined();
    });

    it('reads Gemini functionResponse parts of the last user turn', () => {
      const body = {
        contents: [
          { role: 'user', parts: [{ text: 'hi' }] },
          { role: 'model', parts: [{ functionCall: { name: 'a', args: {} } }] },
          {
            role: 'user',
            parts: [
              { functionResponse: { name: 'a', response: { output: 'sunny' } } },
              { functionResponse: { name: 'b', response: { error: 'failed' } } },
              { functionResponse: { name: 'c', response: { n: 1 } } },
            ],
          },
        ],
      };
      expect(sim.trailingToolResults('gemini', body)).toEqual([
        { name: 'a', content: 'sunny' },
        { name: 'b', content: 'failed' },
        { name: 'c', content: '{"n":1}' },
      ]);
      expect(
        sim.trailingToolResults('gemini', { contents: body.contents.slice(0, 1) }),
      ).toBeUndefined();
    });

    it('reads Anthropic tool_result blocks, named after the tool_use they answer', () => {
      const body = {
        messages: [
          { role: 'user', content: 'hi' },
          {
            role: 'assistant',
            content: [{ type: 'tool_use', id: 'toolu_1', name: 'a', input: {} }],
          },
          {
            role: 'user',
            content: [
              {
                type: 'tool_result',
                tool_use_id: 'toolu_1',
                content: [{ type: 'text', text: 'ok' }],
              },
            ],
          },
        ],
      };
      expect(sim.trailingToolResults('anthropic', body)).toEqual([{ name: 'a', content: 'ok' }]);
    });
  });

  it('splits arguments into two non-empty fragments that join back', () => {
    const [first, second] = sim.argumentFragments('{"city":"Paris"}');
    expect(first.length).toBeGreaterThan(0);
    expect(second.length).toBeGreaterThan(0);
    expect(first + second).toBe('{"city":"Paris"}');
  });

  describe('invalidToolRequest', () => {
    it('refuses OpenAI tools without type function and orphan tool messages', () => {
      expect(sim.invalidToolRequest('openai', { tools: [{ name: 'x' }] })).toMatch(/tools\[0\]/);
      expect(
        sim.invalidToolRequest('openai', {
          messages: [
            { role: 'user', content: 'x' },
            { role: 'tool', tool_call_id: 'call_9', content: 'r' },
          ],
        }),
      ).toMatch(/role 'tool'/);
      expect(
        sim.invalidToolRequest('openai', {
          messages: [
            { role: 'assistant', tool_calls: [{ id: 'call_1' }] },
            { role: 'user', content: 'x' },
          ],
        }),
      ).toMatch(/followed by tool messages/);
    });

    it('refuses Anthropic tools without input_schema and unmatched tool_use/tool_result', () => {
      expect(sim.invalidToolRequest('anthropic', { tools: [{ name: 'x' }] })).toMatch(
        /input_schema/,
      );
      const use = { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_1' }] };
      expect(
        sim.invalidToolRequest('anthropic', {
          messages: [{ role: 'user', content: 'x' }, use, { role: 'user', content: 'y' }],
        }),
      ).toMatch(/without `tool_result`/);
      expect(
        sim.invalidToolRequest('anthropic', {
          messages: [
            { role: 'user', content: 'x' },
            use,
            { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_2' }] },
          ],
        }),
      ).toMatch(/unexpected `tool_use_id`/);
    });

    it('accepts a well-formed round trip', () => {
      expect(
        sim.invalidToolRequest('openai', {
          tools: [{ type: 'function', function: { name: 'a' } }],
          messages: [
            { role: 'user', content: 'x' },
            { role: 'assistant', tool_calls: [{ id: 'call_1' }] },
            { role: 'tool', tool_call_id: 'call_1', content: 'r' },
          ],
        }),
      ).toBeUndefined();
      expect(
        sim.invalidToolRequest('gemini', { tools: [{ functionDeclarations: [{ name: 'a' }] }] }),
      ).toBeUndefined();
    });
  });
});
