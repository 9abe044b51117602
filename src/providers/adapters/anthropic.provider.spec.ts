import type { ProviderMessage } from '../chat-provider.interface';
import { toAnthropicConversation } from './anthropic.provider';

const marked = (blocks: readonly { cache_control?: unknown }[]) =>
  blocks.map((block) => block.cache_control !== undefined);

describe('toAnthropicConversation', () => {
  it('puts system messages in `system`, merges same-role turns and drops empty ones', () => {
    const input: ProviderMessage[] = [
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'a' },
      { role: 'assistant', content: '' },
      { role: 'user', content: 'b' },
      { role: 'system', content: 'Answer in French.' },
      { role: 'assistant', content: 'c' },
    ];
    expect(toAnthropicConversation(input, 1024)).toEqual({
      system: [
        { type: 'text', text: 'Be brief.' },
        { type: 'text', text: 'Answer in French.' },
      ],
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'a' },
            { type: 'text', text: 'b' },
          ],
        },
        { role: 'assistant', content: [{ type: 'text', text: 'c' }] },
      ],
    });
  });

  it('leaves `system` out when there is none', () => {
    expect(toAnthropicConversation([{ role: 'user', content: 'hi' }], 1024)).toEqual({
      messages: [{ role: 'user', content: [{ type: 'text', text: 'hi' }] }],
    });
  });

  it('marks the stable prefix once it reaches the minimum, without a system prompt too', () => {
    const long = 'x'.repeat(4 * 600);
    const turns: ProviderMessage[] = [
      { role: 'user', content: long },
      { role: 'assistant', content: long },
      { role: 'user', content: 'new question' },
    ];
    const below = toAnthropicConversation(turns, 2000);
    expect(below.messages.flatMap((m) => marked(m.content as never))).toEqual([
      false,
      false,
      false,
    ]);
    const above = toAnthropicConversation(turns, 1024);
    expect(above.messages.map((m) => marked(m.content as never))).toEqual([
      [false],
      [true],
      [false],
    ]);
  });

  it('marks the last block of a long system prompt and of merged turns: two marks at most', () => {
    const long = 'y'.repeat(4 * 1100);
    const { system, messages } = toAnthropicConversation(
      [
        { role: 'system', content: 'short rule' },
        { role: 'system', content: long },
        { role: 'user', content: 'q1' },
        { role: 'assistant', content: 'a1' },
        { role: 'assistant', content: 'a1, continued' },
        { role: 'user', content: 'q2' },
      ],
      1024,
    );
    expect(marked(system!)).toEqual([false, true]);
    expect(messages.map((m) => marked(m.content as never))).toEqual([
      [false],
      [false, true],
      [false],
    ]);
    const marks = JSON.stringify({ system, messages }).match(/cache_control/g) ?? [];
    expect(marks).toHaveLength(2);
  });
});
