import { fromBuffer } from 'file-type';
import { InvalidInputError, UnsupportedMediaTypeError } from '@app/common';
import { ACCEPTED_NAMES, ACCEPTED_TYPES, type AcceptedMediaType } from './file-kinds';

/** Controls other than tab, line feed, form feed and carriage return never occur in text files. */
// eslint-disable-next-line no-control-regex
const BINARY_CONTROL = /[\u0000-\u0008\u000b\u000e-\u001f\u007f]/;

/**
 * The media type of an upload, decided by its content: binary formats by their signature
 * (`file-type`), anything else must be UTF-8 text whose name says which text type it is (JSON is
 * parsed). The name's extension must agree with the content: a PDF named `photo.png` or an image
 * named `notes.txt` is refused (415), as is every type outside the accepted list.
 */
export async function sniffMediaType(name: string, bytes: Buffer): Promise<AcceptedMediaType> {
  if (bytes.length === 0) {
    throw new InvalidInputError('file is empty', [{ field: 'file', message: 'is empty' }]);
  }
  const extension = extensionOf(name);
  const detected = await fromBuffer(bytes);
  if (detected) {
    const accepted = ACCEPTED_TYPES.find(
      (type) => type.kind !== 'text' && type.mediaType === detected.mime,
    );
    if (!accepted) {
      throw new UnsupportedMediaTypeError(
        `Unsupported file type ${detected.mime}; accepted: ${ACCEPTED_NAMES}`,
      );
    }
    if (extension !== '' && !(accepted.extensions as readonly string[]).includes(extension)) {
      throw mismatch(extension, accepted.mediaType);
    }
    return accepted.mediaType;
  }
  const text = utf8Text(bytes);
  if (text === undefined) {
    throw new UnsupportedMediaTypeError(
      `The file is neither a supported binary type nor UTF-8 text; accepted: ${ACCEPTED_NAMES}`,
    );
  }
  const accepted = ACCEPTED_TYPES.find(
    (type) => type.kind === 'text' && (type.extensions as readonly string[]).includes(extension),
  );
  if (!accepted) {
    const known = ACCEPTED_TYPES.find((type) =>
      (type.extensions as readonly string[]).includes(extension),
    );
    if (known) throw mismatch(extension, 'text/plain');
    throw new UnsupportedMediaTypeError(
      `Files named .${extension} are not accepted; accepted: ${ACCEPTED_NAMES}`,
    );
  }
  if (accepted.mediaType === 'application/json') {
    try {
      JSON.parse(text);
    } catch {
      throw new InvalidInputError('file is named .json but is not valid JSON', [
        { field: 'file', message: 'is not valid JSON' },
      ]);
    }
  }
  return accepted.mediaType;
}

/** The lower-case extension of a name without its dot ('' when it has none). */
function extensionOf(name: string): string {
  const dot = name.lastIndexOf('.');
  return dot > 0 ? name.slice(dot + 1).toLowerCase() : '';
}

/** The bytes as text when they are well-formed UTF-8 without binary control characters. */
function utf8Text(bytes: Buffer): string | undefined {
  try {
    const text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    return BINARY_CONTROL.test(text) ? undefined : text;
  } catch {
    return undefined;
  }
}

function mismatch(extension: string, mediaType: string): UnsupportedMediaTypeError {
  return new UnsupportedMediaTypeError(
    `The file name's extension .${extension} does not match its content (${mediaType})`,
  );
}
