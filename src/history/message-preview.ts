/** Longest `last_message` preview kept on a session, in characters (code points). */
export const PREVIEW_MAX_CHARS = 200;

/**
 * The session-list preview of a message: whitespace collapsed, trimmed and cut to
 * PREVIEW_MAX_CHARS with an ellipsis. Empty for a message with no text yet (a pending reply),
 * which callers treat as "keep the previous preview".
 */
export function messagePreview(content: string): string {
  const text = content.replace(/\s+/g, ' ').trim();
  const chars = Array.from(text);
  if (chars.length <= PREVIEW_MAX_CHARS) return text;
  return `${chars
    .slice(0, PREVIEW_MAX_CHARS - 1)
    .join('')
    .trimEnd()}…`;
}
