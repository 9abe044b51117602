import { DomainError, InvalidInputError, NotFoundError } from '@app/common';
import { MAX_EVENT_SEQ } from '../dto/chat-request.dto';

/** The 404 detail of a resume that finds nothing to resume. */
export const GENERATION_NOT_FOUND_DETAIL =
  'No resumable reply with this message_id (unknown, not yours, or finished more than ' +
  'CHAT__RESUME_TTL_SECONDS ago); read it from GET /api/history/{session_id}';

/** A resume of an unknown, expired or another user's generation. */
export class GenerationNotFoundError extends NotFoundError {
  constructor() {
    super(GENERATION_NOT_FOUND_DETAIL);
  }
}

/** The event log cannot be read (Redis unreachable): 503, try again shortly. */
export class ResumeUnavailableError extends DomainError {
  readonly kind = 'upstream_unavailable';
  override readonly retryAfterSeconds = 5;
  constructor() {
    super('Resuming is unavailable right now; try again shortly');
  }
}

/**
 * The position of an SSE resume: `Last-Event-ID` (what EventSource sends when it reconnects)
 * before `?after=`; none is 0 (from `start`). Anything but a whole number 0…1e9 is a 400.
 */
export function parseResumePosition(
  lastEventId: string | undefined,
  after: string | undefined,
): number {
  const [field, value] =
    lastEventId !== undefined ? ['Last-Event-ID', lastEventId] : ['after', after];
  if (value === undefined || value === '') return 0;
  const seq = /^\d{1,10}$/.test(value.trim()) ? Number(value.trim()) : NaN;
  if (!Number.isInteger(seq) || seq > MAX_EVENT_SEQ) {
    const message = `${field} must be a whole number from 0 to ${MAX_EVENT_SEQ}`;
    throw new InvalidInputError(message, [{ field, message }]);
  }
  return seq;
}
