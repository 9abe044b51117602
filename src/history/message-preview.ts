/** Longest `last_message` preview kept on a session, in characters (code points). */
export const PREVIEW_MAX_CHARS = 200;

/**
 * How much of a long message's start is enough for its preview: whitespace runs collapse, so
 * several times the preview; when even that collapses to too little, the whole message is used.
 */
const HEAD_LENGTH = PREVIEW_MAX_CHARS * 4;

/**
 * The session-list preview of a message: whitespace collapsed, trimmed and cut to
 * PREVIEW_MAX_CHARS with an ellipsis. Empty for a message with no text yet (a pending reply),
 * which callers treat as "keep the previous preview". Each checkpoint of a streaming reply takes
 * one, so a long reply is not collapsed whole each time.
 */
export function messagePreview(content: string): string {
  if (content.length > HEAD_LENGTH) {
    // The cut can only change the head's last character (half a surrogate pair); the margin
    // of two also covers one trailing space that trimming the whole text would drop.
    const head = Array.from(content.slice(0, HEAD_LENGTH).replace(/\s+/g, ' ').trimStart());
    if (head.length > PREVIEW_MAX_CHARS + 2) return shortened(head);
  }
  const text = content.replace(/\s+/g, ' ').trim();
  const chars = Array.from(text);
  return chars.length <= PREVIEW_MAX_CHARS ? text : shortened(chars);
}

function shortened(chars: string[]): string {
  return `${chars
    .slice(0, PREVIEW_MAX_CHARS - 1)
    .join('')
    .trimEnd()}…`;
}
