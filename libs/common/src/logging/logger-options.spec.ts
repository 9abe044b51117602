import type { IncomingMessage, ServerResponse } from 'node:http';
import { Writable } from 'node:stream';
import { Logger, PinoLogger, type Params } from 'nestjs-pino';
import { __resetOutOfContextForTests } from 'nestjs-pino/PinoLogger';
import pino, { type DestinationStream } from 'pino';
import type { Options as PinoHttpOptions } from 'pino-http';
import { FrameworkChatterLogger } from './framework-chatter-logger';
import { buildLoggerOptions, type LoggingConfig } from './logger-options';

const production: LoggingConfig = { logLevel: 'info', logFormat: 'json', nodeEnv: 'production' };
const development: LoggingConfig = {
  logLevel: 'info',
  logFormat: 'pretty',
  nodeEnv: 'development',
};

/** Everything written to it, as text. */
class Capture extends Writable {
  text = '';
  override _write(chunk: Buffer, _encoding: string, done: () => void): void {
    this.text += chunk.toString();
    done();
  }
}

function pinoHttpArgs(params: Params): [PinoHttpOptions, DestinationStream] {
  return params.pinoHttp as [PinoHttpOptions, DestinationStream];
}

/** Colour codes pino-pretty adds when the test runs in a terminal. */
const ANSI_COLOURS = new RegExp(String.raw`\u001b\[[0-9;]*m`, 'g');

/** What a logger built from `config` prints (pino-pretty hands lines on asynchronously). */
async function printed(config: LoggingConfig, log: (logger: pino.Logger) => void): Promise<string> {
  const out = new Capture();
  const [options, destination] = pinoHttpArgs(buildLoggerOptions(config, out));
  log(pino(options, destination));
  await new Promise((done) => setImmediate(done));
  return out.text.replace(ANSI_COLOURS, '');
}

function requestLevel(config: LoggingConfig, statusCode: number): string {
  const [options] = pinoHttpArgs(buildLoggerOptions(config, new Capture()));
  const res = { statusCode } as ServerResponse;
  return String(options.customLogLevel?.({} as IncomingMessage, res, undefined));
}

describe('buildLoggerOptions', () => {
  it('logs every request at info in production, and only failures above debug elsewhere', () => {
    expect([200, 404, 500].map((status) => requestLevel(production, status))).toEqual([
      'info',
      'warn',
      'error',
    ]);
    expect([200, 404, 500].map((status) => requestLevel(development, status))).toEqual([
      'debug',
      'debug',
      'error',
    ]);
  });

  it('writes JSON lines in production', async () => {
    const text = await printed(production, (logger) => logger.info({ context: 'Boot' }, 'ready'));
    expect(JSON.parse(text)).toMatchObject({ level: 30, context: 'Boot', msg: 'ready' });
  });

  it('writes one readable line per entry in development, with the context in brackets', async () => {
    const text = await printed(development, (logger) =>
      logger.warn({ context: 'MailService' }, 'E-mail is disabled'),
    );
    expect(text).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] WARN: \[MailService\] E-mail is disabled\n$/);
  });

  it('shows a finished request as method, URL, status and time in development', async () => {
    const text = await printed({ ...development, logLevel: 'debug' }, (logger) =>
      logger.debug(
        { req: { method: 'GET', url: '/api/models' }, res: { statusCode: 200 }, responseTime: 3 },
        'request completed',
      ),
    );
    expect(text).toContain('DEBUG: request completed GET /api/models 200 3ms');
  });

  it.each([
    ['production', production],
    ['development', development],
  ])('blanks out secrets in %s', async (_name, config) => {
    const text = await printed(config, (logger) =>
      logger.info(
        { body: { password: 'hunter2-secret', refresh_token: 'rt-secret' }, user: { token: 't' } },
        'login',
      ),
    );
    expect(text).toContain('[Redacted]');
    expect(text).not.toMatch(/hunter2-secret|rt-secret/);
  });
});

describe(FrameworkChatterLogger.name, () => {
  afterEach(() => __resetOutOfContextForTests());

  async function logged(write: (logger: FrameworkChatterLogger) => void): Promise<string[]> {
    const out = new Capture();
    const params = buildLoggerOptions(production, out);
    write(new FrameworkChatterLogger(new Logger(new PinoLogger(params), params)));
    await new Promise((done) => setImmediate(done));
    return out.text
      .trim()
      .split('\n')
      .map((line) => {
        const entry = JSON.parse(line) as { context: string; msg: string };
        return `${entry.context}: ${entry.msg}`;
      });
  }

  it("hides Nest's start-up narration at info and keeps the app's own lines", async () => {
    const lines = await logged((sut) => {
      sut.log('Mapped {/api/models, GET} route', 'RouterExplorer');
      sut.log('AppModule dependencies initialized', 'InstanceLoader');
      sut.log('Providers: local; default model local/echo', 'Providers');
      sut.warn('Socket.IO adapter without Redis', 'NestApplication');
    });
    expect(lines).toEqual([
      'Providers: Providers: local; default model local/echo',
      'NestApplication: Socket.IO adapter without Redis',
    ]);
  });
});
