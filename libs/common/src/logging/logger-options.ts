import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Params } from 'nestjs-pino';

/** Paths pino blanks out wherever they appear in a log line: credentials, tokens, keys. */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-api-key"]',
  'req.headers["x-goog-api-key"]',
  'res.headers["set-cookie"]',
  '*.password',
  '*.new_password',
  '*.newPassword',
  '*.access_token',
  '*.refresh_token',
  '*.token',
  '*.apiKey',
  '*.api_key',
  '*.secret',
  '*.authorization',
];

const REQUEST_ID = /^[A-Za-z0-9._-]{1,128}$/;

/** Removes secret-bearing query parameters (e.g. `?token=` on WebSocket URLs) before logging. */
export function redactUrl(url: string | undefined): string | undefined {
  return url?.replace(
    /([?&](?:token|access_token|refresh_token|key|api_key)=)[^&]*/gi,
    '$1[Redacted]',
  );
}

/** nestjs-pino options: request ids (honouring a sane incoming `X-Request-Id`), redaction, levels. */
export function buildLoggerOptions(level: string): Params {
  return {
    pinoHttp: {
      level,
      redact: { paths: REDACTED_PATHS, censor: '[Redacted]' },
      genReqId: (req: IncomingMessage, res: ServerResponse) => {
        const incoming = req.headers['x-request-id'];
        const id =
          typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : randomUUID();
        res.setHeader('X-Request-Id', id);
        return id;
      },
      serializers: {
        req: (req: { id: string; method: string; url: string }) => ({
          id: req.id,
          method: req.method,
          url: redactUrl(req.url),
        }),
        res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
      },
      customLogLevel: (_req, res, err) => {
        if (err || res.statusCode >= 500) return 'error';
        if (res.statusCode >= 400) return 'warn';
        return 'info';
      },
      autoLogging: { ignore: (req) => req.url === '/health/live' || req.url === '/metrics' },
    },
  };
}
