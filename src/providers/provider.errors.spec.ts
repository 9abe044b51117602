import { mapError } from '@app/common';
import {
  failureForStatus,
  GenerationAbortedError,
  parseRetryAfter,
  ProviderError,
  ProviderTimeoutError,
  ProviderUnavailableError,
} from './provider.errors';

describe('provider errors', () => {
  it('map to 502, 503 (with Retry-After) and 504 with a {detail} body', () => {
    expect(mapError(new ProviderError())).toEqual({
      status: 502,
      body: { detail: 'The AI provider returned an error; please try again' },
      retryAfterSeconds: undefined,
    });
    expect(mapError(new ProviderUnavailableError(undefined, 30))).toEqual({
      status: 503,
      body: { detail: 'The AI provider is temporarily unavailable; please try again later' },
      retryAfterSeconds: 30,
    });
    expect(mapError(new ProviderTimeoutError())).toEqual({
      status: 504,
      body: { detail: 'The AI provider did not answer in time' },
      retryAfterSeconds: undefined,
    });
  });

  it('an aborted generation is not a DomainError (a generic 500 if it ever reached the filter)', () => {
    expect(new GenerationAbortedError().name).toBe('GenerationAbortedError');
    expect(mapError(new GenerationAbortedError()).status).toBe(500);
  });

  it('classifies provider statuses', () => {
    expect(failureForStatus(429)).toBe('rate_limited');
    expect(failureForStatus(401)).toBe('auth');
    expect(failureForStatus(403)).toBe('auth');
    expect(failureForStatus(400)).toBe('bad_request');
    expect(failureForStatus(404)).toBe('bad_request');
    expect(failureForStatus(408)).toBe('server');
    expect(failureForStatus(500)).toBe('server');
    expect(failureForStatus(503)).toBe('server');
  });

  it('parses Retry-After as seconds or an HTTP date', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(parseRetryAfter('2', now)).toBe(2000);
    expect(parseRetryAfter('0.5', now)).toBe(500);
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:00:30 GMT', now)).toBe(30_000);
    expect(parseRetryAfter('Wed, 31 Dec 2025 00:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(null, now)).toBeUndefined();
  });
});
