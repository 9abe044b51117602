import { DomainError } from '@app/common';

/**
 * Final failures of a generation after retries and fallbacks. Their messages are written for
 * end users: they name the model at most, never a key and never the provider's own error text.
 */

/** 502: the provider answered with an error, a malformed reply, or cut the connection. */
export class ProviderError extends DomainError {
  readonly kind = 'upstream_error';
  constructor(message = 'The AI provider returned an error; please try again') {
    super(message);
  }
}

/** 503: every circuit is open, every key is disabled or rate limited. */
export class ProviderUnavailableError extends DomainError {
  readonly kind = 'upstream_unavailable';
  constructor(
    message = 'The AI provider is temporarily unavailable; please try again later',
    override readonly retryAfterSeconds?: number,
  ) {
    super(message);
  }
}

/** 504: connect, first-token, idle-gap or total deadline exceeded. */
export class ProviderTimeoutError extends DomainError {
  readonly kind = 'upstream_timeout';
  constructor(message = 'The AI provider did not answer in time') {
    super(message);
  }
}

/**
 * The caller aborted the generation (client disconnected, abort endpoint, shutdown). Not a
 * DomainError on purpose: it is not a failure the client is told about; chat stores the reply
 * with status `aborted`.
 */
export class GenerationAbortedError extends Error {
  override readonly name = 'GenerationAbortedError';
  constructor(message = 'Generation aborted') {
    super(message);
  }
}

/** How an upstream call failed, normalised across SDKs; decides retry, rotation and breaker. */
export type UpstreamFailureKind =
  /** 429: cool the key down for Retry-After, retry (another key first). */
  | 'rate_limited'
  /** 401/403: disable the key, rotate to another one; never retried with the same key. */
  | 'auth'
  /** 400/404/422…: the request itself was refused; never retried. */
  | 'bad_request'
  /** 5xx, 408, an error event inside a 200 stream: retried, counts for the breaker. */
  | 'server'
  /** Connection refused, reset or cut mid-stream: retried, counts for the breaker. */
  | 'network'
  /** A reply or chunk that cannot be parsed: retried before the first token, else 502. */
  | 'malformed';

/**
 * What adapters throw for an upstream failure. `message` is for logs only (it may quote the
 * provider); clients only ever see the typed errors above.
 */
export class UpstreamError extends Error {
  override readonly name = 'UpstreamError';
  readonly status?: number;
  /** Parsed Retry-After (or provider retry hint) in milliseconds. */
  readonly retryAfterMs?: number;

  constructor(
    readonly failure: UpstreamFailureKind,
    message: string,
    options: { status?: number; retryAfterMs?: number; cause?: unknown } = {},
  ) {
    super(message, { cause: options.cause });
    this.status = options.status;
    this.retryAfterMs = options.retryAfterMs;
  }
}

/** Maps an HTTP status from a provider to a failure kind. */
export function failureForStatus(status: number): UpstreamFailureKind {
  if (status === 429) return 'rate_limited';
  if (status === 401 || status === 403) return 'auth';
  if (status === 408 || status === 409 || status >= 500) return 'server';
  return 'bad_request';
}

/**
 * Parses a Retry-After value: delta seconds (`"2"`, `"1.5"`) or an HTTP date. Returns
 * milliseconds, or undefined when absent or unparseable.
 */
export function parseRetryAfter(
  value: string | null | undefined,
  now = Date.now(),
): number | undefined {
  if (!value) return undefined;
  const trimmed = value.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}
