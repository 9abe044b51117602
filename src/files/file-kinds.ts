/** How a file reaches a model: image parts, a document part (PDF), or inlined text. */
export type FileKind = 'image' | 'pdf' | 'text';

/** Every accepted type: its media type, what kind of input it is, and the names it may carry. */
export const ACCEPTED_TYPES = [
  { mediaType: 'image/png', kind: 'image', extensions: ['png'] },
  { mediaType: 'image/jpeg', kind: 'image', extensions: ['jpg', 'jpeg'] },
  { mediaType: 'image/webp', kind: 'image', extensions: ['webp'] },
  { mediaType: 'image/gif', kind: 'image', extensions: ['gif'] },
  { mediaType: 'application/pdf', kind: 'pdf', extensions: ['pdf'] },
  { mediaType: 'text/plain', kind: 'text', extensions: ['txt', 'text', ''] },
  { mediaType: 'text/markdown', kind: 'text', extensions: ['md', 'markdown'] },
  { mediaType: 'text/csv', kind: 'text', extensions: ['csv'] },
  { mediaType: 'application/json', kind: 'text', extensions: ['json'] },
] as const satisfies readonly {
  mediaType: string;
  kind: FileKind;
  extensions: readonly string[];
}[];

export type AcceptedMediaType = (typeof ACCEPTED_TYPES)[number]['mediaType'];

/** The kind of a stored media type (every stored file has an accepted one). */
export function kindOf(mediaType: string): FileKind {
  return ACCEPTED_TYPES.find((type) => type.mediaType === mediaType)?.kind ?? 'text';
}

/** `png, jpeg, … json` for error messages and docs. */
export const ACCEPTED_NAMES = 'png, jpeg, webp, gif, pdf, txt, md, csv, json';
