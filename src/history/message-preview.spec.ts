import { messagePreview, PREVIEW_MAX_CHARS } from './message-preview';

/** The preview as defined: the whole text collapsed, trimmed, then cut. */
function expected(content: string): string {
  const text = content.replace(/\s+/g, ' ').trim();
  const chars = Array.from(text);
  if (chars.length <= PREVIEW_MAX_CHARS) return text;
  return `${chars
    .slice(0, PREVIEW_MAX_CHARS - 1)
    .join('')
    .trimEnd()}…`;
}

describe('messagePreview', () => {
  it('collapses whitespace and keeps a short message whole', () => {
    expect(messagePreview('  Hello,\n\n  world\t ')).toBe('Hello, world');
    expect(messagePreview('')).toBe('');
    expect(messagePreview(' \n ')).toBe('');
  });

  it('cuts a long message to the limit in code points, with an ellipsis', () => {
    const preview = messagePreview('😀'.repeat(5_000));
    expect(Array.from(preview)).toHaveLength(PREVIEW_MAX_CHARS);
    expect(preview.endsWith('😀…')).toBe(true);
  });

  it('reads past a start that collapses to less than a preview', () => {
    const content = `${' '.repeat(10_000)}${'word '.repeat(100)}`;
    expect(messagePreview(content)).toBe(expected(content));
    expect(messagePreview(content).startsWith('word word')).toBe(true);
  });

  it('gives what the whole text would give where the start collapses to about a preview', () => {
    for (let letters = PREVIEW_MAX_CHARS - 3; letters <= PREVIEW_MAX_CHARS + 4; letters++) {
      for (const gap of [' ', '\n\n', '😀 ']) {
        const start = `${'a'.repeat(letters)}${gap}`;
        for (const rest of ['', ' ', 'z', ' zz zz', '😀 tail']) {
          const content = `${start}${' '.repeat(801 - start.length)}${rest}`;
          expect(messagePreview(content)).toBe(expected(content));
        }
      }
    }
  });

  it('gives what the whole text would give, for long texts of words, spaces and emoji', () => {
    const pieces = ['a', 'bc ', ' ', '\n\n', '😀', '\t ', 'word', '  '];
    let seed = 7;
    const random = () => (seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648) / 2_147_483_648;
    for (let i = 0; i < 500; i++) {
      const target = 700 + Math.floor(random() * 300);
      let content = '';
      while (content.length < target) content += pieces[Math.floor(random() * pieces.length)];
      expect(messagePreview(content)).toBe(expected(content));
    }
  });
});
