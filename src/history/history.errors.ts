import { NotFoundError } from '@app/common';

/** A session that does not exist, is malformed, or belongs to another user (never say which). */
export class SessionNotFoundError extends NotFoundError {
  constructor() {
    super('Session not found');
  }
}

/** A message id that is not part of the given session. */
export class MessageNotFoundError extends NotFoundError {
  constructor() {
    super('Message not found');
  }
}
