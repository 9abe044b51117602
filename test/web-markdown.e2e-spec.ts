import { describeOnSqliteOnly } from '@app/testing';
import { escapeHtml, renderMarkdown } from '../examples/web/src/markdown';

// The browser page's renderer is pure string → string; one run (SQLite project) is enough.

/** Every tag the renderer may write, and the attributes it may give them. */
const ALLOWED_TAGS = new Set([
  'p',
  'br',
  'strong',
  'em',
  'del',
  'code',
  'pre',
  'a',
  'ul',
  'ol',
  'li',
  'blockquote',
  'hr',
  'h1',
  'h2',
  'h3',
  'h4',
  'h5',
  'h6',
]);
const ALLOWED_ATTRIBUTES =
  /^(?:\s+(?:href="https?:\/\/[^"\s<>]+"|target="_blank"|rel="noopener noreferrer"|class="language-[a-z0-9+#-]+"|start="\d+"))*$/;

function expectOnlySafeMarkup(html: string): void {
  for (const match of html.matchAll(/<(\/?)([a-zA-Z0-9]*)([^>]*)>/g)) {
    const [, closing, tag, attributes] = match;
    expect(ALLOWED_TAGS.has(tag)).toBe(true);
    if (closing) expect(attributes).toBe('');
    else expect(attributes).toMatch(ALLOWED_ATTRIBUTES);
  }
  // Anything that looks like markup but is not one of ours must be escaped text.
  expect(html).not.toMatch(
    /<(?!\/?(?:p|br|strong|em|del|code|pre|a|ul|ol|li|blockquote|hr|h[1-6])[\s>])/,
  );
}

describeOnSqliteOnly('web client markdown renderer', () => {
  it('escapes the five HTML characters', () => {
    expect(escapeHtml(`<a href="x">'&'</a>`)).toBe(
      '&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;',
    );
  });

  it.each([
    ['<script>alert(1)</script>', '<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>'],
    ['<img src=x onerror=alert(1)>', '<p>&lt;img src=x onerror=alert(1)&gt;</p>'],
    ['**<b>bold</b>**', '<p><strong>&lt;b&gt;bold&lt;/b&gt;</strong></p>'],
    ['`<i>`', '<p><code>&lt;i&gt;</code></p>'],
  ])('never turns model text into markup: %s', (source, html) => {
    expect(renderMarkdown(source)).toBe(html);
  });

  it('renders inline formatting', () => {
    expect(renderMarkdown('**bold**, *italic*, _also_, ~~gone~~ and `code`')).toBe(
      '<p><strong>bold</strong>, <em>italic</em>, <em>also</em>, <del>gone</del> and <code>code</code></p>',
    );
  });

  it('leaves snake_case words and Markdown inside code spans alone', () => {
    expect(renderMarkdown('call my_long_name with `**not bold**` * 2 * 3')).toBe(
      '<p>call my_long_name with <code>**not bold**</code> * 2 * 3</p>',
    );
  });

  it('renders fenced code blocks escaped, with a language class', () => {
    expect(renderMarkdown('Look:\n```html\n<b>hi</b> & **x**\n```\nDone')).toBe(
      '<p>Look:</p><pre><code class="language-html">&lt;b&gt;hi&lt;/b&gt; &amp; **x**</code></pre><p>Done</p>',
    );
  });

  it('renders an unterminated fence (a reply still streaming) as code', () => {
    expect(renderMarkdown('```js\nconst a = 1;\nconst b')).toBe(
      '<pre><code class="language-js">const a = 1;\nconst b</code></pre>',
    );
  });

  it('keeps only safe characters of a fence language', () => {
    expect(renderMarkdown('```Node.JS\nx\n```')).toBe(
      '<pre><code class="language-nodejs">x</code></pre>',
    );
    const quoted = renderMarkdown('```js"onclick="x\n1\n```');
    expectOnlySafeMarkup(quoted);
    expect(quoted).not.toContain('onclick="');
  });

  it('links only absolute http(s) URLs, opening in a new tab', () => {
    expect(renderMarkdown('[docs](https://example.com/a?b=1&c=2)')).toBe(
      '<p><a href="https://example.com/a?b=1&amp;c=2" target="_blank" rel="noopener noreferrer">docs</a></p>',
    );
    for (const url of ['javascript:alert(1)', 'data:text/html,x', '/relative', 'JaVaScRiPt:x']) {
      expect(renderMarkdown(`[x](${url})`)).toBe(`<p>[x](${escapeHtml(url)})</p>`);
    }
  });

  it('cannot break out of a link attribute with quotes', () => {
    const html = renderMarkdown('[x](https://e.com/"onmouseover="alert(1))');
    expectOnlySafeMarkup(html);
    expect(html).not.toMatch(/\son\w+="/);
  });

  it('renders lists, headings, quotes and rules', () => {
    expect(
      renderMarkdown(
        '# Title\n\n- one\n- **two**\n  continued\n\n3. c\n4. d\n\n> quoted *text*\n\n---',
      ),
    ).toBe(
      '<h1>Title</h1><ul><li>one</li><li><strong>two</strong><br>continued</li></ul>' +
        '<ol start="3"><li>c</li><li>d</li></ol><blockquote><p>quoted <em>text</em></p></blockquote><hr>',
    );
  });

  it('keeps line breaks inside a paragraph and splits paragraphs on blank lines', () => {
    expect(renderMarkdown('a\nb\r\n\r\nc')).toBe('<p>a<br>b</p><p>c</p>');
  });

  it('writes only its own tags for any mix of Markdown and HTML characters (fuzz)', () => {
    const alphabet = [
      '<',
      '>',
      '"',
      "'",
      '&',
      '*',
      '_',
      '`',
      '~',
      '[',
      ']',
      '(',
      ')',
      '#',
      '-',
      '>',
      '\n',
      ' ',
      'a',
      'b',
      '1',
      '.',
      'http://x.io/',
      'javascript:',
      'onerror=',
      '<img ',
      '<script>',
      '```',
      '\u0000',
      '\uE0001\uE000',
    ];
    let seed = 42;
    const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (let run = 0; run < 2000; run++) {
      const length = 1 + Math.floor(next() * 40);
      const source = Array.from(
        { length },
        () => alphabet[Math.floor(next() * alphabet.length)],
      ).join('');
      const html = renderMarkdown(source);
      expectOnlySafeMarkup(html);
      expect(html).not.toContain('\uE000');
    }
  });
});
