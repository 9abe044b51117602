import { ArgumentsHost, Catch, ExceptionFilter, Logger } from '@nestjs/common';
import type { Request, Response } from 'express';
import { DATABASE_UNAVAILABLE_DETAIL } from './database-unavailable';
import { mapError, type MappedError } from './error-body';
import { mapOpenAiError, usesOpenAiErrors, type MappedOpenAiError } from './openai-error-body';

/**
 * The one HTTP exception filter: every error leaves as `{detail}` with the right status; under
 * `/v1` (the OpenAI-compatible surface) inside OpenAI's `{"error": {...}}` envelope, `detail` kept.
 */
@Catch()
export class HttpExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger('HttpExceptionFilter');

  catch(exception: unknown, host: ArgumentsHost): void {
    if (host.getType() !== 'http') return;
    const ctx = host.switchToHttp();
    const response = ctx.getResponse<Response>();
    const request = ctx.getRequest<Request & { id?: string }>();
    const mapped: MappedError | MappedOpenAiError = usesOpenAiErrors(request.path)
      ? mapOpenAiError(exception)
      : mapError(exception);
    if (mapped.status >= 500 && mapped.body.detail === 'Internal server error') {
      this.logger.error(
        { err: exception, reqId: request.id, method: request.method, path: request.path },
        'Unhandled error',
      );
    } else if (mapped.body.detail === DATABASE_UNAVAILABLE_DETAIL) {
      // An outage, not a bug: one line per request without the stack.
      this.logger.warn(
        { reqId: request.id, method: request.method, path: request.path },
        `Database unavailable: ${(exception as Error)?.message ?? String(exception)}`,
      );
    }
    if (response.headersSent) {
      // A streaming response already started; the stream's own error path reports to the client.
      if (!response.writableEnded) response.end();
      return;
    }
    if (mapped.retryAfterSeconds !== undefined) {
      response.setHeader('Retry-After', String(Math.max(1, Math.ceil(mapped.retryAfterSeconds))));
    }
    response.status(mapped.status).json(mapped.body);
  }
}
