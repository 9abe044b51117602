import { DomainError } from '@app/common';
import type { ResolvedModel } from '../generation.types';
import {
  GenerationAbortedError,
  ProviderError,
  ProviderTimeoutError,
  ProviderUnavailableError,
  UpstreamError,
  type UpstreamFailureKind,
} from '../provider.errors';
import type { AttemptScope, CallScope, TimeoutPhase } from './call-scope';
import type { ProviderCallRecord } from './provider-call-recorder';

/** How one attempt ended, as far as retry, rotation and the breaker are concerned. */
export type AttemptFailure =
  | { kind: 'final'; error: Error }
  | {
      kind: UpstreamFailureKind | 'timeout';
      phase?: TimeoutPhase;
      status?: number;
      retryAfterMs?: number;
      detail: string;
    };

/**
 * What ended a failed attempt: the whole call (caller abort, total deadline), one of the
 * attempt's timers, or the upstream. `secrets` are masked in the detail meant for logs.
 */
export function classifyFailure(
  error: unknown,
  call: CallScope,
  attempt: AttemptScope,
  secrets: readonly string[],
): AttemptFailure {
  const ended = call.endError();
  if (ended) return { kind: 'final', error: ended };
  const phase = attempt.timeoutPhase();
  if (phase) return { kind: 'timeout', phase, detail: `${phase} timeout` };
  if (error instanceof UpstreamError) {
    return {
      kind: error.failure,
      status: error.status,
      retryAfterMs: error.retryAfterMs,
      detail: redact(error.message, secrets),
    };
  }
  if (error instanceof DomainError) return { kind: 'final', error };
  // Anything else (an aborted adapter without our abort, a bug): treat as a server failure.
  const detail = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return { kind: 'server', detail: redact(detail, secrets) };
}

/** The outcome, status and detail a failed attempt is recorded with. */
export function failureRecord(
  failure: AttemptFailure,
): Pick<ProviderCallRecord, 'outcome' | 'status' | 'detail'> {
  if (failure.kind !== 'final') {
    return { outcome: failure.kind, status: failure.status, detail: failure.detail };
  }
  if (failure.error instanceof GenerationAbortedError) {
    return { outcome: 'aborted', detail: 'aborted by the caller' };
  }
  if (failure.error instanceof ProviderTimeoutError) {
    return { outcome: 'timeout', detail: 'total timeout' };
  }
  return { outcome: 'server', detail: failure.error.name };
}

/** The error the client sees for a model that failed for good; never quotes the provider. */
export function finalError(target: ResolvedModel, failure: AttemptFailure): Error {
  switch (failure.kind) {
    case 'final':
      return failure.error;
    case 'timeout':
      return new ProviderTimeoutError(
        failure.phase === 'connect'
          ? `Model ${target.id} could not be reached in time`
          : failure.phase === 'idle'
            ? `Model ${target.id} stopped sending its reply`
            : `Model ${target.id} did not answer in time`,
      );
    case 'rate_limited':
      return new ProviderUnavailableError(
        `Model ${target.id} is rate limited by its provider; please try again later`,
        failure.retryAfterMs === undefined
          ? undefined
          : Math.max(1, Math.ceil(failure.retryAfterMs / 1000)),
      );
    case 'auth':
      return new ProviderUnavailableError(
        `Model ${target.id} is temporarily unavailable; please try again later or choose another model`,
      );
    case 'bad_request':
      return new ProviderError(`Model ${target.id} rejected the request`);
    case 'malformed':
      return new ProviderError(`Model ${target.id} sent a malformed reply`);
    case 'network':
      return new ProviderError(`The connection to the provider of ${target.id} failed`);
    case 'server':
      return new ProviderError(`Model ${target.id} returned an error; please try again`);
  }
}

/** A model failed before any token: may the next model of the chain be tried? */
export function canFallBack(error: unknown, call: CallScope): boolean {
  if (call.endError()) return false;
  return (
    error instanceof ProviderError ||
    error instanceof ProviderUnavailableError ||
    error instanceof ProviderTimeoutError
  );
}

/** Provider messages may quote a key (e.g. "Incorrect API key provided: sk-…"): mask ours. */
function redact(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) out = out.split(secret).join('[key]');
  return out.length > 300 ? `${out.slice(0, 300)}…` : out;
}
