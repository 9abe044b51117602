/**
 * `npx ts-node --transpile-only -r tsconfig-paths/register bench/resume.ts [--clients 100]
 * [--spread-ms 0] [--jitter-ms 0] [--app dist/src/main.js] [--cpu-prof DIR]
 * [--setups sqlite,postgres,redis,instances]`: the time from a
 * client's reconnect (GET /api/chat/stream/{message_id} with Last-Event-ID) to the first event it
 * had missed, for N replies resumed while they still stream — all at once (a burst: the figure
 * includes queueing behind the other N−1), or with `--spread-ms` the reconnects spread evenly
 * over that long, so up to N resumed streams are open together but each reconnect meets an idle
 * event loop. The replies stream one word every 20 ms;
 * with `--jitter-ms J` each gap is drawn from 20 ± J ms, as real providers' token timing varies
 * (0, the default: the N replies, started together, deliver their words in the same millisecond;
 * bench/RESULTS.md compares the two):
 *
 * - one instance without Redis (events in process memory),
 * - one instance with Redis (events in Redis Streams, resumed where they run),
 * - across instances: started on A, resumed on B (both on Redis and one PostgreSQL database).
 *
 * Needs the built app (npm run build), TEST_REDIS_URL and TEST_POSTGRES_URL for the Redis rows.
 * Prints a Markdown table (p50 / p99 / max in ms, how many resumes got every event in order, and
 * this process's own event-loop delay, which the figures include, and the resuming app's CPU time
 * per event it streamed to the resumed clients). `--cpu-prof DIR` writes a CPU profile of each app
 * process there.
 */
import { randomBytes } from 'node:crypto';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { getSse, postSse } from '../libs/testing/src/clients/sse-client';
import { createUsers } from './lib/app-client';
import { HttpClient } from './lib/http-load';
import {
  createBenchDatabase,
  ROOT,
  startApp,
  startSimulator,
  stopAll,
  type RunningApp,
} from './lib/processes';
import { round, summarize } from './lib/stats';

interface ResumeRow {
  setup: string;
  clients: number;
  p50: number;
  p99: number;
  max: number;
  /** This bench's own event-loop delay p99 while it resumed: what it adds to the figures. */
  clientLoopP99: number;
  /** Resumes whose ids continued the first stream's without a gap or duplicate, to `done`. */
  complete: number;
  /**
   * The resuming app's CPU time from the first reconnect to the last resumed stream's end, per
   * event the resumed clients received, in µs: what the streaming work costs, which every
   * reconnect waits behind, and steadier than a latency on a shared host.
   */
  cpuUsPerEvent: number;
}

/**
 * A warm-up round with a few clients (first requests of a process run cold code), then the
 * measured one: one reply per token on `start`, each dropped after a few deltas, all resumed at
 * once on `resume`.
 */
async function measure(
  setup: string,
  start: RunningApp,
  resume: RunningApp,
  tokens: string[],
): Promise<ResumeRow> {
  await measureOnce(setup, start, resume, tokens.slice(0, 5));
  return measureOnce(setup, start, resume, tokens);
}

/** Reconnects spread over this long (0: all at once); set from `--spread-ms`. */
let spreadMs = 0;

async function measureOnce(
  setup: string,
  start: RunningApp,
  resume: RunningApp,
  tokens: string[],
): Promise<ResumeRow> {
  const first = await Promise.all(
    tokens.map((token) =>
      postSse(start.url, '/api/chat/stream', { message: 'Tell me a long story' }, { token }),
    ),
  );
  await Promise.all(
    first.map(async (stream) => {
      for (let i = 0; i < 3; i++) await waitForCount(stream.events, 'delta', i + 3);
    }),
  );
  const dropped = first.map((stream) => {
    stream.close();
    const last = Number(stream.events.at(-1)!.id);
    return { messageId: stream.events[0].data.message_id as string, last };
  });
  const latencies: number[] = [];
  let complete = 0;
  let received = 0;
  const cpuBefore = resume.proc.cpuMs();
  const clientLoop = monitorEventLoopDelay({ resolution: 1 });
  clientLoop.enable();
  await Promise.all(
    dropped.map(async ({ messageId, last }, i) => {
      if (spreadMs > 0) {
        await new Promise((resolve) => setTimeout(resolve, (i * spreadMs) / dropped.length));
      }
      const started = process.hrtime.bigint();
      const resumed = await getSse(resume.url, `/api/chat/stream/${messageId}`, {
        token: tokens[i],
        headers: { 'Last-Event-ID': String(last) },
      });
      // Every event this bench misses is a delta (400 words); waiting on it resolves on arrival.
      await resumed.waitFor('delta', 30_000);
      latencies.push(Number(process.hrtime.bigint() - started) / 1e6);
      const events = await resumed.finished;
      received += events.length;
      const ids = events.map((event) => Number(event.id));
      if (ids.every((id, k) => id === last + 1 + k) && events.at(-1)?.event === 'done') complete++;
    }),
  );
  clientLoop.disable();
  const cpuMs = resume.proc.cpuMs() - cpuBefore;
  const summary = summarize(latencies);
  return {
    clientLoopP99: round(clientLoop.percentile(99) / 1e6),
    setup,
    clients: tokens.length,
    p50: round(summary.p50),
    p99: round(summary.p99),
    max: round(summary.max),
    complete,
    cpuUsPerEvent: round((cpuMs * 1000) / received),
  };
}

async function waitForCount(
  events: { event: string }[],
  type: string | undefined,
  count: number,
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (events.filter((event) => !type || event.event === type).length < count) {
    if (Date.now() > deadline) {
      throw new Error(`fewer than ${count} ${type ?? ''} events: ${JSON.stringify(events)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

/** The rows of the table, in order; `--setups` picks some (default: all). */
const SETUPS = ['sqlite', 'postgres', 'redis', 'instances'] as const;

/**
 * TEST_REDIS_URL on database 7: rate-limit state that test runs leave in the shared database
 * (blocked client addresses) must not answer this run's registrations with 429.
 */
function benchRedisUrl(): string | undefined {
  if (!process.env.TEST_REDIS_URL) return undefined;
  const url = new URL(process.env.TEST_REDIS_URL);
  url.pathname = '/7';
  return url.toString();
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      clients: { type: 'string', default: '100' },
      'spread-ms': { type: 'string', default: '0' },
      'jitter-ms': { type: 'string', default: '0' },
      app: { type: 'string' },
      'cpu-prof': { type: 'string' },
      setups: { type: 'string', default: SETUPS.join(',') },
    },
  });
  const setups = new Set(values.setups.split(','));
  const unknown = [...setups].filter((setup) => !(SETUPS as readonly string[]).includes(setup));
  if (unknown.length > 0) throw new Error(`--setups: unknown ${unknown.join(', ')}`);
  const clients = Number(values.clients);
  spreadMs = Number(values['spread-ms']);
  const entry = values.app ? resolve(values.app) : join(ROOT, 'dist', 'src', 'main.js');
  // 400 words 20 ms apart: every reply still streams while it is resumed.
  const jitterMs = Number(values['jitter-ms']);
  const sim = await startSimulator({ chunkDelayMs: 20, chunkJitterMs: jitterMs, tokens: 400 });
  const rows: ResumeRow[] = [];
  const secret = randomBytes(32).toString('hex');
  const app = (databaseUrl: string, env: NodeJS.ProcessEnv = {}) =>
    startApp({
      entry,
      databaseUrl,
      bcryptRounds: 4,
      simulatorUrl: sim.url,
      env: { SECRET_KEY: secret, ...env },
      nodeArgs: values['cpu-prof'] ? ['--cpu-prof', '--cpu-prof-dir', values['cpu-prof']] : [],
    });
  try {
    const run = randomBytes(3).toString('hex');
    if (setups.has('sqlite')) {
      const sqlite = await createBenchDatabase('sqlite');
      const memory = await app(sqlite.url);
      const tokens = await createUsers(new HttpClient(memory.url), clients, `resume-${run}-m`);
      rows.push(await measure('one instance, SQLite, events in memory', memory, memory, tokens));
      await memory.stop();
    }

    const redisUrl = benchRedisUrl();
    if (redisUrl && process.env.TEST_POSTGRES_URL) {
      const pg = await createBenchDatabase('postgres');
      // The same database without Redis: what the database alone costs the rows below.
      // It also migrates the database for the processes that follow.
      const pgMemory = await app(pg.url);
      if (setups.has('postgres')) {
        const pgTokens = await createUsers(
          new HttpClient(pgMemory.url),
          clients,
          `resume-${run}-p`,
        );
        rows.push(
          await measure('one instance, PostgreSQL, events in memory', pgMemory, pgMemory, pgTokens),
        );
      }
      await pgMemory.stop();
      if (setups.has('redis') || setups.has('instances')) {
        const a = await app(pg.url, { REDIS_URL: redisUrl, DATABASE_RUN_MIGRATIONS: 'false' });
        const b = await app(pg.url, { REDIS_URL: redisUrl, DATABASE_RUN_MIGRATIONS: 'false' });
        const shared = await createUsers(new HttpClient(a.url), clients, `resume-${run}-r`);
        if (setups.has('redis')) {
          rows.push(await measure('one instance, PostgreSQL, events in Redis', a, a, shared));
        }
        if (setups.has('instances')) {
          rows.push(await measure('started on A, resumed on B, PostgreSQL + Redis', a, b, shared));
        }
        await Promise.all([a.stop(), b.stop()]);
      }
      await pg.drop();
    }
  } finally {
    await stopAll();
  }
  const timing =
    jitterMs > 0 ? `words 20 ± ${jitterMs} ms apart` : 'words 20 ms apart, in lockstep';
  const mode = `${spreadMs > 0 ? `resumes within ${spreadMs} ms` : 'resumes at once'}; ${timing}`;
  console.log(
    `| setup | ${mode} | p50 ms | p99 ms | max ms | whole and in order | bench client loop delay p99 ms | app CPU µs per resumed event |`,
  );
  console.log('|---|---|---|---|---|---|---|---|');
  for (const row of rows) {
    console.log(
      `| ${row.setup} | ${row.clients} | ${row.p50} | ${row.p99} | ${row.max} | ${row.complete}/${row.clients} | ${row.clientLoopP99} | ${row.cpuUsPerEvent} |`,
    );
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
