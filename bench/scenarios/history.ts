import { loginSeeded, BENCH_PASSWORD } from '../lib/app-client';
import { HttpClient, openLoop, saturate, type LoadResult } from '../lib/http-load';
import { createBenchDatabase, spawnTsHelper, startApp } from '../lib/processes';
import { forEachDatabase, type SkippedDatabase } from '../lib/databases';
import type { BenchContext } from '../lib/profile';
import { ratio } from '../lib/stats';

/** One page type measured at a fixed offered load. */
export interface HistoryPoint {
  name: string;
  request: string;
  load: LoadResult;
}

export interface HistoryDbResult {
  database: 'sqlite' | 'postgres';
  datasets: Record<
    string,
    { users: number; sessions: number; messages: number; seedSeconds: number }
  >;
  points: HistoryPoint[];
  /** Saturation of the session list, page 1 vs the last page (dataset A). */
  listSaturation: { page1: LoadResult; deep: LoadResult };
  /** deep / page 1 for p50 and p99 at the fixed load: 1.0 is flat. */
  deepVsFirst: Record<string, { p50: number; p99: number }>;
}

export type HistoryResult = (HistoryDbResult | SkippedDatabase)[];

const PER_PAGE = 20;

/**
 * GET /api/history and GET /api/history/{id}: page 1 vs the last page at a fixed load, on data
 * seeded by bench/seed-history.ts — A: 1 user × 10,000 sessions; B: 100 users × 100,000
 * messages (10 sessions × 100 messages each); C: one session of 10,000 messages.
 */
export async function runHistory(ctx: BenchContext): Promise<HistoryResult> {
  return forEachDatabase(ctx, ctx.profile.historyDatabases, (database) =>
    runOnDatabase(ctx, database),
  );
}

async function seed(
  ctx: BenchContext,
  databaseUrl: string,
  prefix: string,
  users: number,
  sessions: number,
  messages: number,
) {
  ctx.log(`history: seeding ${users} users × ${sessions} sessions × ${messages} messages`);
  const proc = spawnTsHelper(
    'seed-history',
    'bench/seed-history.ts',
    [
      '--users',
      String(users),
      '--sessions',
      String(sessions),
      '--messages',
      String(messages),
      '--email-prefix',
      prefix,
      '--password',
      BENCH_PASSWORD,
    ],
    {
      DATABASE_URL: databaseUrl,
      HISTORY_STORE: 'sql',
      SECURITY__BCRYPT_ROUNDS: '4',
    },
  );
  const line = await proc.waitForLine(/\{"store".*\}/, 900_000);
  await proc.stop();
  const summary = JSON.parse(line[0]) as { sessions: number; messages: number; seconds: number };
  return {
    users,
    sessions: summary.sessions,
    messages: summary.messages,
    seedSeconds: summary.seconds,
  };
}

async function runOnDatabase(
  ctx: BenchContext,
  database: 'sqlite' | 'postgres',
): Promise<HistoryDbResult> {
  const { profile } = ctx;
  const h = profile.history;
  const db = await createBenchDatabase(database);
  try {
    const datasets = {
      A: await seed(ctx, db.url, 'hist-a-', 1, h.sessionsOneUser, 2),
      B: await seed(ctx, db.url, 'hist-b-', h.users, h.sessionsPerUser, h.messagesPerSession),
      C: await seed(ctx, db.url, 'hist-c-', 1, 1, h.longSessionMessages),
    };
    // A live database has planner statistics; one just bulk-loaded has none until autovacuum
    // gets to it, and Postgres then plans the session list as a scan of every session.
    await db.analyze();
    const app = await startApp({
      entry: ctx.appEntry,
      nodeArgs: ctx.appNodeArgs,
      databaseUrl: db.url,
      bcryptRounds: 4,
    });
    const client = new HttpClient(app.url);
    try {
      const [tokenA] = await loginSeeded(client, 1, 'hist-a-');
      const tokensB = await loginSeeded(client, h.users, 'hist-b-');
      const [tokenC] = await loginSeeded(client, 1, 'hist-c-');
      const sessionsB = await Promise.all(
        tokensB.map((token) => sessionIds(client, token, h.sessionsPerUser)),
      );
      const [sessionC] = await sessionIds(client, tokenC, 1);

      const get = (path: () => string, token: () => string) => () =>
        client
          .request('GET', path(), { headers: { authorization: `Bearer ${token()}` } })
          .then((res) => res.status);
      const pick = <T>(items: T[]) => items[Math.floor(Math.random() * items.length)];
      const lastListPage = Math.ceil(h.sessionsOneUser / PER_PAGE);
      const lastMessagePageB = Math.ceil(h.messagesPerSession / PER_PAGE);
      const lastMessagePageC = Math.ceil(h.longSessionMessages / PER_PAGE);
      let userB = 0;
      const nextB = () => userB++ % tokensB.length;

      const plan: { name: string; request: string; fire: () => Promise<number> }[] = [
        {
          name: 'A list page 1',
          request: `GET /api/history?page=1&per_page=${PER_PAGE} (1 user, ${h.sessionsOneUser} sessions)`,
          fire: get(
            () => `/api/history?page=1&per_page=${PER_PAGE}`,
            () => tokenA,
          ),
        },
        {
          name: 'A list last page',
          request: `GET /api/history?page=${lastListPage}&per_page=${PER_PAGE}`,
          fire: get(
            () => `/api/history?page=${lastListPage}&per_page=${PER_PAGE}`,
            () => tokenA,
          ),
        },
        {
          name: 'B list page 1',
          request: `GET /api/history?page=1&per_page=${PER_PAGE} (random one of ${h.users} users)`,
          fire: get(
            () => `/api/history?page=1&per_page=${PER_PAGE}`,
            () => tokensB[nextB()],
          ),
        },
        {
          name: 'B session page 1',
          request: `GET /api/history/{id}?page=1&per_page=${PER_PAGE} (random user and session, ${h.messagesPerSession} messages)`,
          fire: () => {
            const u = nextB();
            return get(
              () => `/api/history/${pick(sessionsB[u])}?page=1&per_page=${PER_PAGE}`,
              () => tokensB[u],
            )();
          },
        },
        {
          name: 'B session last page',
          request: `GET /api/history/{id}?page=${lastMessagePageB}&per_page=${PER_PAGE}`,
          fire: () => {
            const u = nextB();
            return get(
              () =>
                `/api/history/${pick(sessionsB[u])}?page=${lastMessagePageB}&per_page=${PER_PAGE}`,
              () => tokensB[u],
            )();
          },
        },
        {
          name: 'C session page 1',
          request: `GET /api/history/{id}?page=1&per_page=${PER_PAGE} (one session of ${h.longSessionMessages} messages)`,
          fire: get(
            () => `/api/history/${sessionC}?page=1&per_page=${PER_PAGE}`,
            () => tokenC,
          ),
        },
        {
          name: 'C session last page',
          request: `GET /api/history/{id}?page=${lastMessagePageC}&per_page=${PER_PAGE}`,
          fire: get(
            () => `/api/history/${sessionC}?page=${lastMessagePageC}&per_page=${PER_PAGE}`,
            () => tokenC,
          ),
        },
      ];

      const points: HistoryPoint[] = [];
      for (const step of plan) {
        ctx.log(`history [${database}]: ${step.name} at ${h.rate} req/s`);
        const load = await openLoop(step.fire, {
          rate: h.rate,
          seconds: profile.rateSeconds,
          warmupSeconds: profile.warmupSeconds / 2,
          cpu: app.proc,
        });
        points.push({ name: step.name, request: step.request, load });
      }

      ctx.log(`history [${database}]: list saturation, page 1 vs page ${lastListPage}`);
      const listTarget = (page: number) => ({
        url: app.url,
        path: `/api/history?page=${page}&per_page=${PER_PAGE}`,
        headers: { authorization: `Bearer ${tokenA}` },
      });
      const sat = {
        connections: Math.min(profile.connections, 16),
        seconds: profile.seconds,
        warmupSeconds: profile.warmupSeconds / 2,
        cpu: app.proc,
      };
      const listSaturation = {
        page1: await saturate(listTarget(1), sat),
        deep: await saturate(listTarget(lastListPage), sat),
      };

      const byName = new Map(points.map((p) => [p.name, p.load.latency]));
      const compare = (deep: string, first: string) => ({
        p50: ratio(byName.get(deep)!.p50, byName.get(first)!.p50, 2),
        p99: ratio(byName.get(deep)!.p99, byName.get(first)!.p99, 2),
      });
      return {
        database,
        datasets,
        points,
        listSaturation,
        deepVsFirst: {
          'A list': compare('A list last page', 'A list page 1'),
          'B session': compare('B session last page', 'B session page 1'),
          'C session': compare('C session last page', 'C session page 1'),
        },
      };
    } finally {
      client.close();
      await app.stop();
    }
  } finally {
    await db.drop();
  }
}

async function sessionIds(client: HttpClient, token: string, count: number): Promise<string[]> {
  const res = await client.request('GET', `/api/history?page=1&per_page=${Math.min(count, 100)}`, {
    headers: { authorization: `Bearer ${token}` },
  });
  if (res.status !== 200) throw new Error(`GET /api/history: ${res.status} ${res.body}`);
  const ids = (JSON.parse(res.body) as { items: { session_id: string }[] }).items.map(
    (item) => item.session_id,
  );
  if (ids.length === 0) throw new Error('seeded user has no sessions');
  return ids;
}
