import {
  InvalidInputError,
  NotFoundError,
  RateLimitedError,
  UnauthorizedError,
} from './domain-errors';
import { mapOpenAiError, usesOpenAiErrors } from './openai-error-body';

class UpstreamDown extends Error {}

describe(mapOpenAiError.name, () => {
  it('keeps the status and message of mapError inside the envelope, with detail beside it', () => {
    expect(mapOpenAiError(new UnauthorizedError('Invalid API key'))).toEqual({
      status: 401,
      retryAfterSeconds: undefined,
      body: {
        error: {
          message: 'Invalid API key',
          type: 'invalid_request_error',
          param: null,
          code: 'invalid_api_key',
        },
        detail: 'Invalid API key',
      },
    });
  });

  it('names the first invalid field as param and keeps errors on 400', () => {
    const errors = [{ field: 'n', message: 'n must be 1' }];
    const { status, body } = mapOpenAiError(new InvalidInputError('n must be 1', errors));
    expect(status).toBe(400);
    expect(body).toEqual({
      error: { message: 'n must be 1', type: 'invalid_request_error', param: 'n', code: null },
      detail: 'n must be 1',
      errors,
    });
  });

  it('carries Retry-After on 429 and an error-specific code when the error has one', () => {
    const limited = mapOpenAiError(new RateLimitedError('Too many requests', 7));
    expect(limited.retryAfterSeconds).toBe(7);
    expect(limited.body.error).toMatchObject({
      type: 'rate_limit_error',
      code: 'rate_limit_exceeded',
    });
    const model = Object.assign(new NotFoundError('Unknown model'), {
      openAiCode: 'model_not_found',
    });
    expect(mapOpenAiError(model).body.error.code).toBe('model_not_found');
  });

  it('hides unknown failures behind a generic server_error', () => {
    expect(mapOpenAiError(new UpstreamDown('secret detail')).body.error).toEqual({
      message: 'Internal server error',
      type: 'server_error',
      param: null,
      code: null,
    });
  });
});

describe(usesOpenAiErrors.name, () => {
  it('applies to /v1 and below only', () => {
    expect(['/v1', '/v1/models', '/v1/x/y'].map(usesOpenAiErrors)).toEqual([true, true, true]);
    expect(['/v10', '/api/v1/x', undefined].map(usesOpenAiErrors)).toEqual([false, false, false]);
  });
});
