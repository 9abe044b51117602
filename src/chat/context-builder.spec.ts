import { InvalidInputError } from '@app/common';
import type { MessageRecord, MessageStatus } from '../history/history-store.interface';
import { countMessagesTokens, countTokens } from '../providers/token-counter';
import { buildContext, completeExchanges } from './context-builder';

let seq = 0;
function message(
  role: 'user' | 'assistant',
  content: string,
  status: MessageStatus = 'complete',
): MessageRecord {
  seq++;
  return {
    id: `m${seq}`,
    sessionId: 's1',
    seq,
    parentId: null,
    role,
    content,
    status,
    model: null,
    promptTokens: null,
    completionTokens: null,
    error: null,
    feedback: null,
    attachments: [],
    toolCalls: [],
    createdAt: new Date(),
  };
}

describe('buildContext', () => {
  it('sends system prompt, earlier messages and the new message in order', () => {
    const sut = buildContext(
      {
        systemPrompt: 'Be brief.',
        history: [message('user', 'Hi'), message('assistant', 'Hello!')],
        userMessage: 'How are you?',
        contextWindow: 10_000,
        replyBudget: 100,
      },
      countMessagesTokens,
    );
    expect(sut.messages).toEqual([
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'Hi' },
      { role: 'assistant', content: 'Hello!' },
      { role: 'user', content: 'How are you?' },
    ]);
    expect(sut.trimmed).toBe(0);
    expect(sut.promptTokens).toBe(countMessagesTokens(sut.messages));
  });

  it('drops failed, aborted and pending replies with the question they answered', () => {
    const history = [
      message('user', 'q1'),
      message('assistant', 'a1'),
      message('user', 'q2'),
      message('assistant', 'partial', 'aborted'),
      message('user', 'q3'),
      message('assistant', '', 'error'),
      message('user', 'q4'),
      message('assistant', 'a4'),
    ];
    expect(completeExchanges(history)).toEqual([
      { role: 'user', content: 'q1' },
      { role: 'assistant', content: 'a1' },
      { role: 'user', content: 'q4' },
      { role: 'assistant', content: 'a4' },
    ]);
  });

  it('trims from the oldest so prompt + reply budget fit the window', () => {
    const word = 'x'.repeat(400); // 100 tokens + 4 framing per message
    const history = Array.from({ length: 10 }, (_, i) =>
      message(i % 2 === 0 ? 'user' : 'assistant', `${i}${word}`),
    );
    const sut = buildContext(
      { history, userMessage: 'now', contextWindow: 600, replyBudget: 100 },
      countMessagesTokens,
    );
    expect(sut.promptTokens).toBeLessThanOrEqual(500);
    // The newest messages survive; the kept history starts with a user turn.
    expect(sut.messages.at(-1)).toEqual({ role: 'user', content: 'now' });
    expect(sut.messages[0].role).toBe('user');
    expect(sut.messages.at(-2)?.content.startsWith('9')).toBe(true);
    expect(sut.trimmed).toBeGreaterThan(0);
    expect(sut.messages.length - 1 + sut.trimmed).toBe(10);
    // 3 priming + 8 for "now" + 4 × 105 = 431 fits in 500; a fifth message (536) would not.
    expect(countTokens(word)).toBe(100);
    expect(sut.messages).toHaveLength(5);
    expect(sut.trimmed).toBe(6);
  });

  it('keeps the system prompt even when all history has to go', () => {
    const history = [message('user', 'y'.repeat(4000)), message('assistant', 'z'.repeat(4000))];
    const sut = buildContext(
      { systemPrompt: 'sys', history, userMessage: 'hi', contextWindow: 200, replyBudget: 50 },
      countMessagesTokens,
    );
    expect(sut.messages).toEqual([
      { role: 'system', content: 'sys' },
      { role: 'user', content: 'hi' },
    ]);
    expect(sut.trimmed).toBe(2);
  });

  it('rejects a message that cannot fit the window on its own with 400', () => {
    const run = () =>
      buildContext(
        { history: [], userMessage: 'w'.repeat(2000), contextWindow: 300, replyBudget: 100 },
        countMessagesTokens,
      );
    expect(run).toThrow(InvalidInputError);
    expect(run).toThrow(/too long for the model's context window/);
  });

  it('rejects a reply budget as large as the window with 400', () => {
    expect(() =>
      buildContext(
        { history: [], userMessage: 'hi', contextWindow: 1000, replyBudget: 1000 },
        countMessagesTokens,
      ),
    ).toThrow(/max_tokens \(1000\) leaves no room/);
  });

  describe('tool calls', () => {
    const call = (
      id: string,
      round: number,
      result: { content: string; isError: boolean } | null,
      executedBy: 'server' | 'client' = 'client',
    ) => ({ id, name: `fn_${id}`, arguments: `{"id":"${id}"}`, executedBy, round, result });
    const toolReply = (content: string, toolCalls: MessageRecord['toolCalls']) => ({
      ...message('assistant', content),
      toolCalls,
    });

    it('expands a reply into its rounds, each followed by its results, then its text', () => {
      const history = [
        message('user', 'weather and maths?'),
        toolReply('It is sunny and 42.', [
          call('a', 0, { content: '42', isError: false }, 'server'),
          call('b', 1, { content: 'no such city', isError: true }),
          call('c', 1, { content: 'sunny', isError: false }),
        ]),
      ];
      expect(completeExchanges(history)).toEqual([
        { role: 'user', content: 'weather and maths?' },
        {
          role: 'assistant',
          content: '',
          toolCalls: [{ id: 'a', name: 'fn_a', arguments: '{"id":"a"}' }],
        },
        { role: 'tool', content: '42', toolCallId: 'a', toolName: 'fn_a' },
        {
          role: 'assistant',
          content: '',
          toolCalls: [
            { id: 'b', name: 'fn_b', arguments: '{"id":"b"}' },
            { id: 'c', name: 'fn_c', arguments: '{"id":"c"}' },
          ],
        },
        {
          role: 'tool',
          content: 'no such city',
          toolCallId: 'b',
          toolName: 'fn_b',
          toolError: true,
        },
        { role: 'tool', content: 'sunny', toolCallId: 'c', toolName: 'fn_c' },
        { role: 'assistant', content: 'It is sunny and 42.' },
      ]);
    });

    it('leaves out calls without a result, and a reply with nothing else', () => {
      const history = [
        message('user', 'q'),
        toolReply('', [call('a', 0, null)]),
        message('user', 'never mind'),
        toolReply('ok', [call('b', 0, null)]),
      ];
      expect(completeExchanges(history)).toEqual([
        { role: 'user', content: 'q' },
        { role: 'user', content: 'never mind' },
        { role: 'assistant', content: 'ok' },
      ]);
    });

    it('ends a continuation with the answered reply, its text before its calls', () => {
      const sut = buildContext(
        {
          systemPrompt: 'sys',
          history: [
            message('user', 'weather?'),
            toolReply('Let me look.', [call('a', 0, { content: 'sunny', isError: false })]),
          ],
          contextWindow: 10_000,
          replyBudget: 100,
        },
        countMessagesTokens,
      );
      expect(sut.messages.slice(0, 2)).toEqual([
        { role: 'system', content: 'sys' },
        { role: 'user', content: 'weather?' },
      ]);
      expect(sut.messages.slice(2)).toEqual([
        {
          role: 'assistant',
          content: 'Let me look.',
          toolCalls: [{ id: 'a', name: 'fn_a', arguments: '{"id":"a"}' }],
        },
        { role: 'tool', content: 'sunny', toolCallId: 'a', toolName: 'fn_a' },
      ]);
      expect(sut.trimmed).toBe(0);
    });

    it('trims a reply with its results as one unit, never a call without its result', () => {
      const big = 'x'.repeat(400);
      const history = [
        message('user', `q1${big}`),
        toolReply(`a1${big}`, [
          call('a', 0, { content: big, isError: false }),
          call('b', 0, { content: big, isError: false }),
        ]),
        message('user', `q2${big}`),
        message('assistant', `a2${big}`),
      ];
      const sut = buildContext(
        { history, userMessage: 'now', contextWindow: 600, replyBudget: 100 },
        countMessagesTokens,
      );
      // The tool reply (four messages) does not fit whole, so it goes whole, with its question.
      expect(sut.messages.map((m) => m.role)).toEqual(['user', 'assistant', 'user']);
      expect(sut.messages.some((m) => m.role === 'tool')).toBe(false);
      expect(sut.trimmed).toBe(5);
    });
  });
});
