import { BINARY_INPUT_TOKENS, countMessagesTokens, countTokens } from './token-counter';

describe('countTokens', () => {
  it('is about 4 characters per token, rounded up', () => {
    expect(countTokens('')).toBe(0);
    expect(countTokens('a')).toBe(1);
    expect(countTokens('abcd')).toBe(1);
    expect(countTokens('hello world!')).toBe(3);
    expect(countTokens('x'.repeat(4000))).toBe(1000);
  });

  it('counts CJK, kana and hangul one token per character', () => {
    expect(countTokens('你好世界')).toBe(4);
    expect(countTokens('こんにちは')).toBe(5);
    expect(countTokens('안녕')).toBe(2);
    expect(countTokens('hi 你好')).toBe(3);
  });
});

describe('countMessagesTokens', () => {
  it('adds 4 tokens per message and 3 for the reply priming', () => {
    expect(countMessagesTokens([])).toBe(0);
    expect(countMessagesTokens([{ role: 'user', content: 'abcd' }])).toBe(3 + 4 + 1);
    expect(
      countMessagesTokens([
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'hello there' },
      ]),
    ).toBe(3 + (4 + 3) + (4 + 3));
  });

  it('adds a fixed estimate per attached image and PDF', () => {
    const input = (kind: 'image' | 'pdf') => ({ kind, mediaType: 'x/y', name: 'f', data: 'AAAA' });
    expect(
      countMessagesTokens([
        { role: 'user', content: 'abcd', inputs: [input('image'), input('pdf'), input('image')] },
      ]),
    ).toBe(3 + 4 + 1 + 2 * BINARY_INPUT_TOKENS.image + BINARY_INPUT_TOKENS.pdf);
  });
});
