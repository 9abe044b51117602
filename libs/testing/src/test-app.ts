import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { AppConfig } from '@app/config';
import { createApp } from '../../../src/bootstrap';
import {
  ProviderSimulator,
  type ProviderSimulatorOptions,
  simulatedGroqEnv,
} from './simulator/provider-simulator';
import { createTestDatabase, TestDatabase } from './test-database';

export interface TestApp {
  app: NestExpressApplication;
  config: AppConfig;
  /** `http://127.0.0.1:<port>` of the listening server. */
  url: string;
  database: TestDatabase;
  close(): Promise<void>;
}

/** Environment every test app starts from: quiet logs, cheap bcrypt, no provider keys. */
export function baseTestEnv(): Record<string, string> {
  return {
    NODE_ENV: 'test',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    SECRET_KEY: randomBytes(32).toString('hex'),
    SECURITY__BCRYPT_ROUNDS: '4',
    HOST: '127.0.0.1',
    PORT: '0',
    AI_SERVICES__LOCAL_DELAY_MS: '0',
    CHAT__GENERATE_TITLES: 'false',
    // The suites written before resumable replies assert that a client leaving aborts its reply
    // at once (C14); the resume suites set their own window.
    CHAT__RESUME_WINDOW_MS: '0',
  };
}

/**
 * Suites on the shared TEST_REDIS_URL run in parallel and all connect from 127.0.0.1, so the
 * per-IP limits counted in that Redis would add up every suite's sign-ups. Such suites get
 * per-IP limits out of the way unless they set their own (the throttling suites do, and send
 * an address of their own in X-Forwarded-For).
 */
export function sharedRedisLimits(env: Record<string, string | undefined>): Record<string, string> {
  if (!env.REDIS_URL) return {};
  return { RATE_LIMIT__AUTH_PER_MINUTE: '10000', RATE_LIMIT__DEFAULT_PER_MINUTE: '10000' };
}

/**
 * Boots the real application on a fresh database and a random loopback port. Only `env` is
 * read (never the developer's `.env` or process environment), so suites cannot leak into
 * each other.
 */
export async function startTestApp(env: Record<string, string | undefined> = {}): Promise<TestApp> {
  const database = await createTestDatabase();
  // Uploaded files go to a directory of this app alone, removed with it.
  const filesDir = env.FILES__DIR ? undefined : mkdtempSync(join(tmpdir(), 'chatbot-files-'));
  const config = AppConfig.fromEnv({
    ...baseTestEnv(),
    ...sharedRedisLimits(env),
    DATABASE_URL: database.url,
    ...(filesDir ? { FILES__DIR: filesDir } : {}),
    ...env,
  });
  const { app, url } = await listenOnLoopback(config);
  return {
    app,
    config,
    url,
    database,
    close: async () => {
      await app.close();
      await database.drop();
      if (filesDir) rmSync(filesDir, { recursive: true, force: true });
    },
  };
}

/** A test app whose chat goes to its own provider simulator (`sim`). */
export type AppWithSimulator = TestApp & { sim: ProviderSimulator };

/**
 * A provider simulator and an app whose chat goes to it: `env` adds to or overrides
 * `simulatedGroqEnv`, or, as a function of the simulator's URL, is the app's provider settings.
 * `close()` stops both.
 */
export async function startAppWithSimulator(
  env:
    | Record<string, string | undefined>
    | ((simulatorUrl: string) => Record<string, string | undefined>) = {},
  options?: ProviderSimulatorOptions,
): Promise<AppWithSimulator> {
  const sim = new ProviderSimulator(options);
  const url = await sim.start();
  let app: TestApp;
  try {
    app = await startTestApp(
      typeof env === 'function' ? env(url) : { ...simulatedGroqEnv(url), ...env },
    );
  } catch (error) {
    await sim.stop();
    throw error;
  }
  return {
    ...app,
    sim,
    close: async () => {
      await app.close();
      await sim.stop();
    },
  };
}

/** A second app instance beside a test app; the caller closes `app`. */
export interface SecondInstance {
  app: NestExpressApplication;
  /** `http://127.0.0.1:<port>` of the listening server. */
  url: string;
}

/**
 * Boots a second instance of `first`'s application, as behind a load balancer: the same
 * database (already migrated) and signing secret, `env` on top of the base test environment.
 */
export async function startSecondInstance(
  first: TestApp,
  env: Record<string, string | undefined> = {},
): Promise<SecondInstance> {
  return listenOnLoopback(
    AppConfig.fromEnv({
      ...baseTestEnv(),
      ...sharedRedisLimits(env),
      ...env,
      SECRET_KEY: first.config.security.secretKey,
      DATABASE_URL: first.database.url,
    }),
  );
}

async function listenOnLoopback(config: AppConfig): Promise<SecondInstance> {
  const app = await createApp(config);
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address() as AddressInfo;
  return { app, url: `http://127.0.0.1:${port}` };
}
