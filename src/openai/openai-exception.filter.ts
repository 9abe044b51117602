import { ArgumentsHost, Catch, ExceptionFilter, Logger } from '@nestjs/common';
import type { Request, Response } from 'express';
import { mapOpenAiError } from './openai-errors';

/** The `/v1` routes' error filter: OpenAI's `{"error": {...}}` envelope with `detail` beside it. */
@Catch()
export class OpenAiExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger('OpenAiExceptionFilter');

  catch(exception: unknown, host: ArgumentsHost): void {
    const ctx = host.switchToHttp();
    const response = ctx.getResponse<Response>();
    const request = ctx.getRequest<Request & { id?: string }>();
    const mapped = mapOpenAiError(exception);
    if (mapped.status === 500) {
      this.logger.error(
        { err: exception, reqId: request.id, method: request.method, path: request.path },
        'Unhandled error',
      );
    }
    if (response.headersSent) {
      if (!response.writableEnded) response.end();
      return;
    }
    if (mapped.retryAfterSeconds !== undefined) {
      response.setHeader('Retry-After', String(Math.max(1, Math.ceil(mapped.retryAfterSeconds))));
    }
    response.status(mapped.status).json(mapped.body);
  }
}
