import { BENCH_PASSWORD, createUsers, scrapeMetrics } from '../lib/app-client';
import { closedLoop, HttpClient, openLoop, type LoadResult } from '../lib/http-load';
import { createBenchDatabase, spawnTsHelper, startApp } from '../lib/processes';
import type { BenchContext } from '../lib/profile';
import { ratio, round } from '../lib/stats';

export interface LoginResult {
  bcryptRounds: number;
  /**
   * Raw async bcrypt.compare rate of this machine at the same cost and concurrency (the ceiling):
   * the mean of a run just before and one just after the storm, both given.
   */
  rawBcryptPerSecond: number;
  rawBcryptRuns: number[];
  logins: LoadResult;
  /** logins/s ÷ raw bcrypt compares/s. */
  shareOfRawBcrypt: number;
  /** The app's own event-loop delay during the storm (prom-client's monitorEventLoopDelay), ms. */
  eventLoopDelayP99Ms: number;
  eventLoopDelayMaxMs: number;
  /** GET /health/live at a steady 20 req/s during the storm: what other requests feel. */
  probeDuringStorm: LoadResult;
}

/**
 * A login storm at the configured bcrypt cost vs the raw bcrypt rate of the same machine, and
 * proof that hashing stays off the event loop: the app's event-loop delay p99 and the latency of
 * a light request while every login is hashing.
 */
export async function runLogin(ctx: BenchContext): Promise<LoginResult> {
  const { profile, bcryptRounds } = ctx;
  const concurrency = profile.login.connections;
  const seconds = profile.login.seconds;

  const rawRate = async () => {
    ctx.log(`login: raw bcrypt rate at cost ${bcryptRounds}`);
    const helper = spawnTsHelper('bcrypt-rate', 'bench/bcrypt-rate.ts', [
      '--rounds',
      String(bcryptRounds),
      '--concurrency',
      String(concurrency),
      '--seconds',
      String(seconds),
    ]);
    const line = await helper.waitForLine(/\{.*"rate".*\}/, 120_000);
    await helper.stop();
    return (JSON.parse(line[0]) as { rate: number }).rate;
  };
  // Other load on the machine drifts: the ceiling is measured on both sides of the storm.
  const rawBefore = await rawRate();

  ctx.log(`login: storm on POST /api/auth/login (bcrypt cost ${bcryptRounds})`);
  const db = await createBenchDatabase('sqlite');
  const app = await startApp({
    entry: ctx.appEntry,
    nodeArgs: ctx.appNodeArgs,
    databaseUrl: db.url,
    bcryptRounds,
  });
  const client = new HttpClient(app.url);
  try {
    const users = concurrency;
    await createUsers(client, users, 'login-', 4);
    // Like the raw rate: workers start logins until the deadline and every started one counts.
    let next = 0;
    const loginOnce = () =>
      client
        .request('POST', '/api/auth/login', {
          body: JSON.stringify({
            email: `login-${(next++ % users) + 1}@bench.local`,
            password: BENCH_PASSWORD,
          }),
        })
        .then((res) => res.status);
    await closedLoop(loginOnce, { concurrency, seconds: Math.min(2, seconds / 2) }); // warm-up
    await scrapeMetrics(client); // resets the event-loop delay histogram
    const probeClient = new HttpClient(app.url);
    const [logins, probeDuringStorm] = await Promise.all([
      closedLoop(loginOnce, { concurrency, seconds, cpu: app.proc }),
      openLoop(() => probeClient.request('GET', '/health/live').then((res) => res.status), {
        rate: 20,
        seconds: seconds - 0.5,
      }),
    ]);
    probeClient.close();
    const metrics = await scrapeMetrics(client);
    const p99 = metrics.get('nodejs_eventloop_lag_p99_seconds');
    const max = metrics.get('nodejs_eventloop_lag_max_seconds');
    client.close();
    await app.stop();
    const rawAfter = await rawRate();
    const raw = (rawBefore + rawAfter) / 2;
    return {
      bcryptRounds,
      rawBcryptPerSecond: round(raw, 1),
      rawBcryptRuns: [round(rawBefore, 1), round(rawAfter, 1)],
      logins,
      shareOfRawBcrypt: ratio(logins.rps, raw),
      eventLoopDelayP99Ms: round((p99 ?? NaN) * 1000),
      eventLoopDelayMaxMs: round((max ?? NaN) * 1000),
      probeDuringStorm,
    };
  } finally {
    client.close();
    await app.stop();
    await db.drop();
  }
}
