import { InvalidInputError } from '@app/common';
import { fingerprintInput, parseIdempotencyKey } from './chat-input';

describe('parseIdempotencyKey', () => {
  it('accepts 1 to 255 printable ASCII characters and passes absence through', () => {
    expect(parseIdempotencyKey(undefined)).toBeUndefined();
    expect(parseIdempotencyKey('a')).toBe('a');
    expect(parseIdempotencyKey('k'.repeat(255))).toBe('k'.repeat(255));
    expect(parseIdempotencyKey('order 42/retry#1')).toBe('order 42/retry#1');
  });

  it.each([
    ['empty', ''],
    ['blank', '   '],
    ['too long', 'k'.repeat(256)],
    ['non-ASCII', 'clé'],
    ['a control character', 'a\tb'],
  ])('rejects %s with InvalidInputError', (_case, value) => {
    expect(() => parseIdempotencyKey(value)).toThrow(InvalidInputError);
  });

  it('rejects a header sent twice', () => {
    expect(() => parseIdempotencyKey(['a', 'b'])).toThrow(InvalidInputError);
  });
});

describe('fingerprintInput', () => {
  it('is stable for the same request and differs when any field differs', () => {
    const base = { message: 'hi', sessionId: null, model: 'local/echo' };
    expect(fingerprintInput(base)).toBe(fingerprintInput({ ...base }));
    expect(fingerprintInput(base)).toBe(fingerprintInput({ ...base, sessionId: undefined }));
    for (const change of [
      { message: 'hi!' },
      { model: 'groq/x' },
      { systemPrompt: 'sys' },
      { temperature: 0 },
      { maxTokens: 5 },
      { sessionId: 'abc' },
      { attachments: ['file-1'] },
      { tools: [{ name: 'get_weather', parameters: { type: 'object' } }] },
      { toolResults: [{ toolCallId: 'call_1', content: 'sunny', isError: false }] },
    ]) {
      expect(fingerprintInput({ ...base, ...change })).not.toBe(fingerprintInput(base));
    }
  });
});
