import { HttpException, HttpStatus } from '@nestjs/common';
import {
  DATABASE_RETRY_AFTER_SECONDS,
  DATABASE_UNAVAILABLE_DETAIL,
  isDatabaseUnavailable,
} from './database-unavailable';
import { DomainError, InvalidInputError } from './domain-errors';

export interface FieldError {
  field: string;
  message: string;
}

/** The one error shape of the API: `{detail}` plus `errors` for validation failures. */
export interface ErrorBody {
  detail: string;
  errors?: FieldError[];
}

export interface MappedError {
  status: number;
  body: ErrorBody;
  retryAfterSeconds?: number;
}

interface BodyParserError {
  type?: string;
  status?: number;
  expose?: boolean;
}

const GENERIC_DETAIL: Record<number, string> = {
  [HttpStatus.BAD_REQUEST]: 'Bad request',
  [HttpStatus.UNAUTHORIZED]: 'Not authenticated',
  [HttpStatus.FORBIDDEN]: 'Forbidden',
  [HttpStatus.NOT_FOUND]: 'Not found',
  [HttpStatus.CONFLICT]: 'Conflict',
  [HttpStatus.PAYLOAD_TOO_LARGE]: 'Request body too large',
  [HttpStatus.TOO_MANY_REQUESTS]: 'Too many requests',
};

/**
 * Maps anything thrown to a status and a safe body. An unreachable database is a 503
 * `Database unavailable` with Retry-After (an outage, not a bug); other unknown errors become a
 * generic 500. Neither message reaches the client (it may hold SQL, provider text or secrets).
 */
export function mapError(error: unknown): MappedError {
  if (error instanceof DomainError) {
    const body: ErrorBody = { detail: error.message || GENERIC_DETAIL[error.status] || 'Error' };
    if (error instanceof InvalidInputError && error.errors?.length) body.errors = error.errors;
    return { status: error.status, body, retryAfterSeconds: error.retryAfterSeconds };
  }
  if (error instanceof HttpException) {
    const status = error.getStatus();
    return { status, body: httpExceptionBody(error, status) };
  }
  const parserError = error as BodyParserError;
  if (parserError?.type === 'entity.too.large') {
    return { status: 413, body: { detail: 'Request body too large' } };
  }
  if (parserError?.type === 'entity.parse.failed') {
    return { status: 400, body: { detail: 'Malformed JSON in request body' } };
  }
  if (parserError?.expose && typeof parserError.status === 'number' && parserError.status < 500) {
    return {
      status: parserError.status,
      body: { detail: GENERIC_DETAIL[parserError.status] ?? 'Bad request' },
    };
  }
  if (isDatabaseUnavailable(error)) {
    return {
      status: 503,
      body: { detail: DATABASE_UNAVAILABLE_DETAIL },
      retryAfterSeconds: DATABASE_RETRY_AFTER_SECONDS,
    };
  }
  return { status: 500, body: { detail: 'Internal server error' } };
}

function httpExceptionBody(error: HttpException, status: number): ErrorBody {
  const response = error.getResponse();
  if (typeof response === 'string') return { detail: response };
  const payload = response as { detail?: unknown; message?: unknown; errors?: FieldError[] };
  if (typeof payload.detail === 'string') {
    return payload.errors
      ? { detail: payload.detail, errors: payload.errors }
      : { detail: payload.detail };
  }
  if (typeof payload.message === 'string') return { detail: payload.message };
  if (Array.isArray(payload.message)) return { detail: payload.message.join('; ') };
  return { detail: GENERIC_DETAIL[status] ?? error.message };
}
