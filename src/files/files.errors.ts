import { NotFoundError } from '@app/common';

/** A file that does not exist, is malformed, or belongs to another user (never say which). */
export class FileNotFoundError extends NotFoundError {
  constructor() {
    super('File not found');
  }
}
