import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  AppProcess,
  createTestDatabase,
  describeWithServices,
  ensureAppBuilt,
  killAllAppProcesses,
  ProviderSimulator,
  startAppProcess,
  TestDatabase,
} from '@app/testing';
import { api, newUser, randomClientIp, sharedProcessEnv } from './multi-instance.helpers';

const REQUESTS = 50;
const ALLOWED = 10;
/** 1 µ$ per reply token and input free: a call reserves exactly MAX_TOKENS µ$ … */
const MAX_TOKENS = 100;
/** … and the simulated OpenRouter charges exactly that, so settling frees nothing. */
const CHARGE_USD = MAX_TOKENS / 1_000_000;

/**
 * The budget across instances: two processes of the built app share Redis (the Lua reservation)
 * and Postgres. 50 concurrent requests of one user, spread over both, against a daily budget
 * that fits 10 calls: at most 10 reach the provider simulator.
 */
describeWithServices(['postgres', 'redis'], 'spend budget across two app processes', () => {
  let database: TestDatabase;
  let sim: ProviderSimulator;
  let a: AppProcess;
  let b: AppProcess;
  const ip = randomClientIp();

  beforeAll(async () => {
    await ensureAppBuilt();
    sim = new ProviderSimulator();
    const url = await sim.start();
    database = await createTestDatabase('postgres');
    const pricesFile = join(mkdtempSync(join(tmpdir(), 'budget-int-')), 'prices.json');
    writeFileSync(
      pricesFile,
      JSON.stringify({ models: { 'openrouter/openai/gpt-4o-mini': { input: 0, output: 1 } } }),
    );
    const env = {
      ...sharedProcessEnv(database.url),
      RATE_LIMIT__DEFAULT_PER_MINUTE: '10000',
      RATE_LIMIT__AUTH_PER_MINUTE: '1000',
      QUOTA__REQUESTS_PER_MINUTE: '1000',
      AI_SERVICES__OPEN_ROUTER_API_KEY: 'sim-or-key',
      AI_SERVICES__OPEN_ROUTER_BASE_URL: url,
      AI_SERVICES__DEFAULT_MODEL: 'openrouter/openai/gpt-4o-mini',
      AI_SERVICES__MAX_RETRIES: '0',
      MODEL_PRICES_FILE: pricesFile,
      BUDGET__USD_PER_DAY: String((ALLOWED * MAX_TOKENS) / 1_000_000),
      CHAT__GENERATE_TITLES: 'false',
      SHUTDOWN_GRACE_MS: '0',
    };
    a = await startAppProcess(env);
    b = await startAppProcess({ ...env, DATABASE_RUN_MIGRATIONS: 'false' });
  }, 300_000);

  afterAll(async () => {
    try {
      await Promise.all([a?.stop(), b?.stop()]);
    } finally {
      await killAllAppProcesses();
      await database?.drop();
      await sim?.stop();
    }
  }, 60_000);

  it(`${REQUESTS} concurrent requests against a budget for ${ALLOWED}: at most ${ALLOWED} reach the provider`, async () => {
    const user = await newUser(a.url, b.url, ip);
    sim.script(
      ...Array.from({ length: REQUESTS }, () => ({ costUsd: CHARGE_USD, headersDelayMs: 200 })),
    );
    const responses = await Promise.all(
      Array.from({ length: REQUESTS }, (_, i) =>
        api(i % 2 ? b.url : a.url, 'POST', '/api/chat', {
          token: user.token,
          ip,
          body: { message: `request ${i}`, max_tokens: MAX_TOKENS },
        }),
      ),
    );
    const ok = responses.filter((r) => r.status === 200);
    const refused = responses.filter((r) => r.status === 429);
    expect(ok.length + refused.length).toBe(REQUESTS);
    expect(sim.requests.length).toBeLessThanOrEqual(ALLOWED);
    expect(ok.length).toBe(sim.requests.length);
    // Every refusal names the daily limit and says when to retry.
    for (const r of refused) expect(r.body.detail).toMatch(/^Daily spending limit of \$0\.001 /);
    expect(new Set(refused.map((r) => r.headers.get('retry-after') !== null))).toEqual(
      new Set([true]),
    );
    // All 10 fitted: the reservations of the first 10 used the budget up exactly.
    expect(ok.length).toBe(ALLOWED);
  }, 120_000);
});
