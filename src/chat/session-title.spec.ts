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
});

describe('cleanGeneratedTitle', () => {
  it('strips quotes, a "Title:" prefix and trailing dots', () => {
    expect(cleanGeneratedTitle('Title: "Baking sourdough bread."\n')).toBe(
      'Baking sourdough bread',
    );
  });

  it('returns null for an empty answer', () => {
    expect(cleanGeneratedTitle('  \n "" ')).toBeNull();
  });
});
