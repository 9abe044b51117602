import { cleanGeneratedTitle, MAX_TITLE_CHARS, titleFromMessage } from './session-title';

describe('titleFromMessage', () => {
  it('keeps a short message as it is, whitespace collapsed', () => {
    expect(titleFromMessage('  How do   I\nbake bread?  ')).toBe('How do I bake bread?');
  });

  it('cuts a long message on a word boundary with an ellipsis', () => {
    const title = titleFromMessage(
      'Please explain the difference between optimistic and pessimistic locking in databases',
    );
    expect(title.length).toBeLessThanOrEqual(MAX_TITLE_CHARS);
    expect(title).toBe('Please explain the difference between optimistic and…');
  });

  it('cuts a single over-long word hard', () => {
    const title = titleFromMessage('a'.repeat(100));
    expect(title).toBe(`${'a'.repeat(59)}…`);
  });

  it('drops control characters and lone surrogates, which a renamed title may not hold', () => {
    expect(titleFromMessage('\u0000\u0007 bell\u007f\u0085 ring\ud800')).toBe('bell ring');
    expect(titleFromMessage('tab\tand\r\nnewline')).toBe('tab and newline');
  });

  it('counts and cuts code points, so an emoji is one character and never split', () => {
    expect(titleFromMessage('😀'.repeat(MAX_TITLE_CHARS))).toBe('😀'.repeat(MAX_TITLE_CHARS));
    const title = titleFromMessage('😀'.repeat(100));
    expect(title).toBe(`${'😀'.repeat(59)}…`);
    expect(title).not.toMatch(/\p{Surrogate}/u);
  });
});

describe('cleanGeneratedTitle', () => {
  it('strips quotes, a "Title:" prefix and trailing dots', () => {
    expect(cleanGeneratedTitle('Title: "Baking sourdough bread."\n')).toBe(
      'Baking sourdough bread',
    );
  });

  it('keeps the first line and drops the control characters in it', () => {
    expect(cleanGeneratedTitle('"Sourdough\u0007 \u0000basics"\nmore')).toBe('Sourdough basics');
  });

  it('returns null for an empty answer', () => {
    expect(cleanGeneratedTitle('  \n "" ')).toBeNull();
  });
});
