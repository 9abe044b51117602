/**
 * A small, safe Markdown renderer for model replies. The whole input is HTML-escaped FIRST; only
 * then are a few Markdown constructs turned into tags this file writes itself, so no text from a
 * model can ever become markup. Supported: fenced code blocks, inline code, headings, bold,
 * italic, strikethrough, http(s) links, bullet and numbered lists, block quotes, rules.
 * Unterminated fences (a reply still streaming) render as code up to the end.
 */

const HTML_ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/** Escapes the five characters that matter in HTML text and attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => HTML_ESCAPES[char]);
}

const FENCE = /^\s{0,3}(`{3,}|~{3,})\s*([\w+#.-]*)\s*$/;
const HEADING = /^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$/;
const RULE = /^\s{0,3}([-*_])(\s*\1){2,}\s*$/;
const QUOTE = /^\s{0,3}>\s?(.*)$/;
const BULLET = /^\s{0,3}[-*+]\s+(.*)$/;
const ORDERED = /^\s{0,3}(\d{1,9})[.)]\s+(.*)$/;

/** Renders Markdown to an HTML string that contains no markup from `source` itself. */
export function renderMarkdown(source: string): string {
  // U+E000 (private use) delimits placeholders below; it has no business in chat text.
  const lines = source
    .replace(/\r\n?/g, '\n')
    .replace(/\uE000/g, '')
    .split('\n');
  return renderBlocks(lines).join('');
}

function startsBlock(line: string): boolean {
  return [FENCE, HEADING, RULE, QUOTE, BULLET, ORDERED].some((pattern) => pattern.test(line));
}

function renderBlocks(lines: string[]): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    if (line.trim() === '') {
      i++;
      continue;
    }

    const fence = FENCE.exec(line);
    if (fence) {
      const marker = fence[1];
      const body: string[] = [];
      i++;
      while (i < lines.length && !isClosingFence(lines[i], marker)) body.push(lines[i++]);
      i++; // the closing fence, or past the end while a reply is still streaming
      const lang = fence[2].toLowerCase().replace(/[^a-z0-9+#-]/g, '');
      const cls = lang ? ` class="language-${lang}"` : '';
      out.push(`<pre><code${cls}>${escapeHtml(body.join('\n'))}</code></pre>`);
      continue;
    }

    const heading = HEADING.exec(line);
    if (heading) {
      const level = heading[1].length;
      out.push(`<h${level}>${renderInline(heading[2])}</h${level}>`);
      i++;
      continue;
    }

    if (RULE.test(line)) {
      out.push('<hr>');
      i++;
      continue;
    }

    if (QUOTE.test(line)) {
      const inner: string[] = [];
      let match: RegExpExecArray | null;
      while (i < lines.length && (match = QUOTE.exec(lines[i]))) {
        inner.push(match[1]);
        i++;
      }
      out.push(`<blockquote>${renderBlocks(inner).join('')}</blockquote>`);
      continue;
    }

    const ordered = ORDERED.exec(line);
    if (ordered || BULLET.test(line)) {
      const pattern = ordered ? ORDERED : BULLET;
      const items: string[] = [];
      while (i < lines.length) {
        const item = pattern.exec(lines[i]);
        if (item) {
          items.push(item[item.length - 1]);
          i++;
        } else if (items.length && /^\s+\S/.test(lines[i]) && !startsBlock(lines[i])) {
          // An indented continuation line belongs to the previous item.
          items[items.length - 1] += `\n${lines[i].trim()}`;
          i++;
        } else {
          break;
        }
      }
      const body = items.map((item) => `<li>${renderInline(item)}</li>`).join('');
      if (ordered) {
        const start = Number(ordered[1]);
        out.push(start === 1 ? `<ol>${body}</ol>` : `<ol start="${start}">${body}</ol>`);
      } else {
        out.push(`<ul>${body}</ul>`);
      }
      continue;
    }

    const paragraph: string[] = [line];
    i++;
    while (i < lines.length && lines[i].trim() !== '' && !startsBlock(lines[i])) {
      paragraph.push(lines[i++]);
    }
    out.push(`<p>${renderInline(paragraph.join('\n'))}</p>`);
  }
  return out;
}

function isClosingFence(line: string, marker: string): boolean {
  const trimmed = line.trim();
  return trimmed.length >= marker.length && trimmed === marker[0].repeat(trimmed.length);
}

/** Inline Markdown on one block of text: escape, then code, links, emphasis, line breaks. */
function renderInline(text: string): string {
  const slots: string[] = [];
  const keep = (html: string): string => `\uE000${slots.push(html) - 1}\uE000`;

  let html = escapeHtml(text);
  // Code spans first so that nothing inside them is treated as Markdown.
  html = html.replace(/(`+)([^`]|[^`][\s\S]*?[^`])\1(?!`)/g, (_match, _ticks, code: string) =>
    keep(`<code>${code.trim()}</code>`),
  );
  // Only absolute http(s) links; the URL is already escaped, so it cannot leave the attribute.
  html = html.replace(
    /\[([^\]\n]+)\]\((https?:\/\/[^\s()]+)\)/g,
    (_match, label: string, url: string) =>
      keep(`<a href="${url}" target="_blank" rel="noopener noreferrer">${emphasis(label)}</a>`),
  );
  html = emphasis(html).replace(/\n/g, '<br>');

  const restore = (value: string): string =>
    value.replace(/\uE000(\d+)\uE000/g, (_match, index: string) => restore(slots[Number(index)]));
  return restore(html);
}

function emphasis(html: string): string {
  return html
    .replace(/\*\*(?=\S)([\s\S]*?\S)\*\*/g, '<strong>$1</strong>')
    .replace(/(^|[^\w])__(?=\S)([\s\S]*?\S)__(?!\w)/g, '$1<strong>$2</strong>')
    .replace(/~~(?=\S)([\s\S]*?\S)~~/g, '<del>$1</del>')
    .replace(/(^|[^*\w])\*(?=[^\s*])([^*\n]*?[^\s*])\*(?!\*)/g, '$1<em>$2</em>')
    .replace(/(^|[^\w])_(?=[^\s_])([^_\n]*?[^\s_])_(?!\w)/g, '$1<em>$2</em>');
}
