/** DI token of the FileStorage the app was configured with. */
export const FILE_STORAGE = Symbol('FILE_STORAGE');

/**
 * Where uploaded files' bytes live, by key. Keys are chosen by the app (`<user id>/<file id>`),
 * never by clients. Implementations: LocalDirectoryFileStorage (FILES__DIR). An S3-compatible one
 * would implement the same four methods.
 */
export interface FileStorage {
  /** Stores `bytes` under `key` all at once: a reader never sees a partial file. */
  put(key: string, bytes: Buffer): Promise<void>;
  /** The bytes under `key`; FileContentMissingError when there are none. */
  get(key: string): Promise<Buffer>;
  /** Removes `key`; a key that is already gone is not an error. */
  delete(key: string): Promise<void>;
}

/** The storage holds no bytes for a key the database lists (deleted by hand, another disk). */
export class FileContentMissingError extends Error {
  constructor(key: string) {
    super(`No stored content for file ${key}`);
    this.name = 'FileContentMissingError';
  }
}
