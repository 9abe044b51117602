import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Params } from 'nestjs-pino';
import pino, { type DestinationStream } from 'pino';
import type { Options as PinoHttpOptions } from 'pino-http';
import { PinoPretty } from 'pino-pretty';
import type { AppConfig } from '@app/config';

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

/** What the logger needs from the configuration. */
export type LoggingConfig = Pick<AppConfig, 'logLevel' | 'logFormat' | 'nodeEnv'>;

/**
 * nestjs-pino options: request ids (honouring a sane incoming `X-Request-Id`), redaction, levels.
 * Every request is logged at info in production only; elsewhere at debug, so `npm start` shows
 * what the app says rather than one line per request. Failed requests keep warn/error levels.
 * Lines are written synchronously, by one writer shared by the framework's and the request
 * logger: they reach stdout in order, and main.ts's start-up line printed after them comes last.
 * `destination` replaces stdout (tests).
 */
export function buildLoggerOptions(config: LoggingConfig, destination?: DestinationStream): Params {
  const successLevel = config.nodeEnv === 'production' ? 'info' : 'debug';
  const options: PinoHttpOptions = {
    level: config.logLevel,
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
      if (res.statusCode >= 400) return config.nodeEnv === 'production' ? 'warn' : 'debug';
      return successLevel;
    },
    autoLogging: { ignore: (req) => req.url === '/health/live' || req.url === '/metrics' },
  };
  if (config.logFormat === 'pretty') return { pinoHttp: [options, prettyStream(destination)] };
  return { pinoHttp: [options, destination ?? pino.destination({ dest: 1, sync: true })] };
}

/**
 * Log lines for people: `12:00:01.234 INFO: [Context] message`, a request as
 * `GET /api/x 200 4ms`; colours only on a terminal (pino-pretty checks).
 */
function prettyStream(destination?: DestinationStream): DestinationStream {
  return PinoPretty({
    sync: true,
    destination: destination ?? 1,
    translateTime: 'SYS:HH:MM:ss.l',
    ignore: 'pid,hostname,context,req,res,responseTime',
    messageFormat: (log, messageKey) => {
      const context = typeof log.context === 'string' ? `[${log.context}] ` : '';
      const req = log.req as { method?: string; url?: string } | undefined;
      const res = log.res as { statusCode?: number } | undefined;
      const request =
        req && res
          ? ` ${req.method} ${req.url} ${res.statusCode} ${String(log.responseTime)}ms`
          : '';
      const message = log[messageKey];
      return `${context}${typeof message === 'string' ? message : JSON.stringify(message ?? '')}${request}`;
    },
  });
}
