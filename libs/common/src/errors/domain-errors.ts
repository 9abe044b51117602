/**
 * Typed domain failures. Services throw these (never HTTP exceptions); each transport maps
 * `kind` to its own status in one place (HTTP filter, Socket.IO/WS error mapping).
 */
export type DomainErrorKind =
  | 'validation'
  | 'unauthorized'
  | 'forbidden'
  | 'not_found'
  | 'conflict'
  | 'payload_too_large'
  | 'unsupported_media_type'
  | 'rate_limited'
  | 'upstream_error'
  | 'upstream_unavailable'
  | 'upstream_timeout'
  /** An unexpected failure (a bug) reported as a result rather than thrown, e.g. a failed reply. */
  | 'internal';

export const DOMAIN_ERROR_STATUS: Record<DomainErrorKind, number> = {
  validation: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  rate_limited: 429,
  upstream_error: 502,
  upstream_unavailable: 503,
  upstream_timeout: 504,
  internal: 500,
};

export abstract class DomainError extends Error {
  abstract readonly kind: DomainErrorKind;
  /** Seconds a client should wait before retrying (429/503); sent as `Retry-After`. */
  readonly retryAfterSeconds?: number;

  get status(): number {
    return DOMAIN_ERROR_STATUS[this.kind];
  }
}

export class InvalidInputError extends DomainError {
  readonly kind = 'validation';
  constructor(
    message: string,
    readonly errors?: { field: string; message: string }[],
  ) {
    super(message);
  }
}

export class UnauthorizedError extends DomainError {
  readonly kind = 'unauthorized';
}

export class ForbiddenError extends DomainError {
  readonly kind = 'forbidden';
}

/** Unknown resource, or one that belongs to another user (never reveal which). */
export class NotFoundError extends DomainError {
  readonly kind = 'not_found';
}

export class ConflictError extends DomainError {
  readonly kind = 'conflict';
}

export class PayloadTooLargeError extends DomainError {
  readonly kind = 'payload_too_large';
}

/** A request body in a format the route does not take (e.g. a form where only JSON is). */
export class UnsupportedMediaTypeError extends DomainError {
  readonly kind = 'unsupported_media_type';
}

export class RateLimitedError extends DomainError {
  readonly kind = 'rate_limited';
  constructor(
    message: string,
    override readonly retryAfterSeconds: number,
  ) {
    super(message);
  }
}
