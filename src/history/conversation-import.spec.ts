import { InvalidInputError } from '@app/common';
import {
  type DraftConversation,
  MAX_IMPORT_MESSAGES,
  readConversations,
} from './conversation-import';

const node = (
  id: string,
  parent: string | null,
  role: string | null,
  text: string,
  time: number,
) => ({
  id,
  parent,
  message: role
    ? { author: { role }, content: { content_type: 'text', parts: [text] }, create_time: time }
    : null,
});

const one = (data: unknown): DraftConversation => {
  const [draft] = readConversations(data);
  if (draft instanceof InvalidInputError) throw draft;
  return draft;
};

describe('readConversations', () => {
  it('orders a ChatGPT tree parents first, siblings by time, whatever the mapping order', () => {
    const draft = one({
      title: '  Two\nlines ',
      current_node: 'late',
      mapping: {
        late: node('late', 'q', 'assistant', 'second answer', 30),
        q: node('q', 'root', 'user', 'question', 10),
        root: node('root', null, null, '', 0),
        early: node('early', 'q', 'assistant', 'first answer', 20),
      },
    });
    expect(draft.messages.map((m) => [m.key, m.parentKey])).toEqual([
      ['q', null],
      ['early', 'q'],
      ['late', 'q'],
    ]);
    expect(draft.activeKey).toBe('late');
    expect(draft.title).toBe('Two lines');
    expect(draft.messages[1].createdAt.toISOString()).toBe('1970-01-01T00:00:20.000Z');
  });

  it("keeps an exported reply's tool calls with their results, as one round", () => {
    const draft = one({
      messages: [
        { id: 'q', role: 'user', content: 'weather?' },
        {
          id: 'a',
          role: 'assistant',
          content: 'Sunny.',
          tool_calls: [
            {
              id: 'call_1',
              name: 'get_weather',
              arguments: '{"city":"Lisbon"}',
              executed_by: 'client',
              result: { content: 'sunny', is_error: false },
            },
            {
              id: 'call_2',
              name: 'calculator',
              arguments: '{}',
              executed_by: 'server',
              result: null,
            },
          ],
        },
      ],
    });
    expect(draft.messages[0].toolCalls).toEqual([]);
    expect(draft.messages[1].toolCalls).toEqual([
      {
        id: 'call_1',
        name: 'get_weather',
        arguments: '{"city":"Lisbon"}',
        executedBy: 'client',
        round: 0,
        result: { content: 'sunny', isError: false },
      },
      {
        id: 'call_2',
        name: 'calculator',
        arguments: '{}',
        executedBy: 'server',
        round: 0,
        result: null,
      },
    ]);
    const [bad] = readConversations({
      messages: [{ id: 'a', role: 'assistant', content: '', tool_calls: [{ id: 'x', name: 'n' }] }],
    });
    expect(bad).toEqual(new InvalidInputError('message 1: tool_calls: arguments must be a string'));
  });

  it('leaves out system, tool and empty messages, re-attaching their children', () => {
    const draft = one({
      current_node: 'tool',
      mapping: {
        sys: node('sys', null, 'system', 'You are ChatGPT', 1),
        q: node('q', 'sys', 'user', 'hi', 2),
        empty: node('empty', 'q', 'assistant', '   ', 3),
        tool: node('tool', 'empty', 'tool', 'result', 4),
        a: node('a', 'tool', 'assistant', 'hello', 5),
      },
    });
    expect(draft.messages.map((m) => [m.key, m.parentKey])).toEqual([
      ['q', null],
      ['a', 'q'],
    ]);
    // The current node was left out: its nearest kept ancestor is the active leaf.
    expect(draft.activeKey).toBe('q');
  });

  it('reads an own export, cutting titles and keeping feedback and usage', () => {
    const draft = one({
      title: 'x'.repeat(300),
      active_message_id: 'b',
      messages: [
        { id: 'a', parent_id: null, role: 'user', content: 'q', status: 'complete' },
        {
          id: 'b',
          parent_id: 'a',
          role: 'assistant',
          content: 'r',
          status: 'error',
          usage: { prompt_tokens: 3, completion_tokens: 2, tokens: 5 },
          feedback: { rating: 'down', comment: '' },
        },
      ],
    });
    expect(draft.title).toHaveLength(200);
    expect(draft.activeKey).toBe('b');
    expect(draft.messages[1]).toMatchObject({
      status: 'error',
      promptTokens: 3,
      completionTokens: 2,
      feedback: { rating: 'down', comment: null },
    });
  });

  it.each<[string, unknown, string]>([
    [
      'duplicate ids',
      {
        messages: [
          { id: 'a', role: 'user', content: '' },
          { id: 'a', role: 'user', content: '' },
        ],
      },
      'message 2: id a appears twice',
    ],
    [
      'a non-string content',
      { messages: [{ id: 'a', role: 'user', content: 5 }] },
      'message 1: content must be a string',
    ],
    [
      'an unknown status',
      { messages: [{ id: 'a', role: 'user', content: '', status: 'done' }] },
      'message 1: unknown status',
    ],
    [
      'too many messages',
      { messages: Array.from({ length: MAX_IMPORT_MESSAGES + 1 }, (_, i) => ({ id: `m${i}` })) },
      `a conversation may have at most ${MAX_IMPORT_MESSAGES} messages`,
    ],
  ])('refuses %s', (_label, data, detail) => {
    const [draft] = readConversations(data);
    expect(draft).toBeInstanceOf(InvalidInputError);
    expect((draft as InvalidInputError).message).toBe(detail);
  });
});
