import type { Readable } from 'node:stream';
import { DomainError } from '@app/common';

/** DI token of the FileStorage the app was configured with. */
export const FILE_STORAGE = Symbol('FILE_STORAGE');

/** A stored file's bytes as a stream, opened: a missing key has already failed. */
export interface OpenedContent {
  stream: Readable;
  /** Undefined when the storage did not say (the response is then sent chunked). */
  sizeBytes?: number;
}

/**
 * Where uploaded files' bytes live, by key. Keys are chosen by the app (`<user id>/<file id>`),
 * never by clients (assertSafeStorageKey). Implementations: LocalDirectoryFileStorage
 * (FILES__STORAGE=local, FILES__DIR) and S3FileStorage (FILES__STORAGE=s3).
 */
export interface FileStorage {
  /** Stores `bytes` under `key` all at once: a reader never sees a partial file. */
  put(key: string, bytes: Buffer): Promise<void>;
  /** The bytes under `key`; FileContentMissingError when there are none. */
  get(key: string): Promise<Buffer>;
  /** A stream of the bytes under `key` (downloads); FileContentMissingError when there are none. */
  open(key: string): Promise<OpenedContent>;
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

/** The 503 detail of a request that failed because the file storage could not be reached. */
export const FILE_STORAGE_UNAVAILABLE_DETAIL = 'File storage unavailable';

/** The file storage (an S3-compatible service) is down or refused the request: 503. */
export class FileStorageUnavailableError extends DomainError {
  readonly kind = 'upstream_unavailable';
  override readonly retryAfterSeconds = 5;
  constructor() {
    super(FILE_STORAGE_UNAVAILABLE_DETAIL);
  }
}

/** Path segments of letters, digits, `-` and `_` only: no `..`, no absolute paths, no dots. */
const SAFE_KEY = /^[A-Za-z0-9_-]{1,100}(\/[A-Za-z0-9_-]{1,100}){0,3}$/;

/** Refuses anything that is not a plain relative key of the app's own making. */
export function assertSafeStorageKey(key: string): void {
  if (!SAFE_KEY.test(key)) throw new Error(`Unsafe file storage key "${key}"`);
}
