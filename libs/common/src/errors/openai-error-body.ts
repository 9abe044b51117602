import { mapError, type FieldError } from './error-body';

/** OpenAI's error envelope, plus the project's own `detail` (and `errors` on 400). */
export interface OpenAiErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
  detail: string;
  errors?: FieldError[];
}

export interface MappedOpenAiError {
  status: number;
  body: OpenAiErrorBody;
  retryAfterSeconds?: number;
}

const TYPE_BY_STATUS: Record<number, string> = {
  401: 'invalid_request_error',
  403: 'permission_error',
  429: 'rate_limit_error',
};

const CODE_BY_STATUS: Record<number, string> = {
  401: 'invalid_api_key',
  403: 'insufficient_permissions',
  404: 'not_found',
  409: 'conflict',
  413: 'request_too_large',
  429: 'rate_limit_exceeded',
  502: 'upstream_error',
  503: 'upstream_unavailable',
  504: 'upstream_timeout',
};

/** Paths whose errors use OpenAI's envelope: the OpenAI-compatible `/v1` surface. */
export function usesOpenAiErrors(path: string | undefined): boolean {
  return !!path && (path === '/v1' || path.startsWith('/v1/'));
}

/**
 * Maps anything thrown to OpenAI's wire format with the same status and message the rest of the
 * API gives (mapError). Errors may carry their own `openAiCode` (e.g. `model_not_found`), so SDKs raise their own exception classes (AuthenticationError,
 * NotFoundError, RateLimitError…) and `detail` still holds.
 */
export function mapOpenAiError(error: unknown): MappedOpenAiError {
  const { status, body, retryAfterSeconds } = mapError(error);
  const ownCode = (error as { openAiCode?: unknown })?.openAiCode;
  const type = TYPE_BY_STATUS[status] ?? (status >= 500 ? 'server_error' : 'invalid_request_error');
  const code = typeof ownCode === 'string' ? ownCode : (CODE_BY_STATUS[status] ?? null);
  return {
    status,
    retryAfterSeconds,
    body: {
      error: { message: body.detail, type, param: body.errors?.[0]?.field ?? null, code },
      detail: body.detail,
      ...(body.errors ? { errors: body.errors } : {}),
    },
  };
}
