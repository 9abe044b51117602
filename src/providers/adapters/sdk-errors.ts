import {
  failureForStatus,
  GenerationAbortedError,
  parseRetryAfter,
  UpstreamError,
} from '../provider.errors';

/** What the `openai` and `@anthropic-ai/sdk` SDKs (both Stainless-generated) throw for an HTTP error. */
interface SdkApiError {
  status?: number;
  headers?: Headers;
  error?: unknown;
  message: string;
}

type ErrorClass<T = unknown> = abstract new (...args: never[]) => T;

/** One SDK's error classes. */
export interface SdkErrorClasses {
  /** An HTTP error, or (without status) an error event inside a 200 stream. */
  api: ErrorClass<SdkApiError>;
  connection: ErrorClass;
  userAbort: ErrorClass;
  /** The SDK's base error: anything else it throws is a reply it could not read. */
  base: ErrorClass;
}

/**
 * Maps whatever an SDK (or fetch under it) threw to an UpstreamError or an abort. `streamError`
 * reads the body of an error that arrived inside a 200 stream (the SDK gives it no status).
 */
export function normalizeSdkError(
  error: unknown,
  signal: AbortSignal | undefined,
  classes: SdkErrorClasses,
  streamError: (body: unknown) => UpstreamError,
): Error {
  if (signal?.aborted || error instanceof classes.userAbort) return new GenerationAbortedError();
  if (error instanceof UpstreamError || error instanceof GenerationAbortedError) return error;
  if (error instanceof classes.connection) {
    return new UpstreamError('network', (error as Error).message, { cause: error });
  }
  if (error instanceof classes.api) {
    if (error.status === undefined) return streamError(error.error);
    const retryAfterMs =
      parseRetryAfterMs(error.headers?.get('retry-after-ms')) ??
      parseRetryAfter(error.headers?.get('retry-after'));
    return new UpstreamError(failureForStatus(error.status), error.message, {
      status: error.status,
      retryAfterMs,
      cause: error,
    });
  }
  if (error instanceof SyntaxError || error instanceof classes.base) {
    return new UpstreamError('malformed', (error as Error).message, { cause: error });
  }
  const message = error instanceof Error ? error.message : String(error);
  return new UpstreamError('network', message, { cause: error });
}

function parseRetryAfterMs(value: string | null | undefined): number | undefined {
  if (!value || !/^\d+(\.\d+)?$/.test(value.trim())) return undefined;
  return Math.round(Number(value));
}
