import { saturate, type LoadResult } from '../lib/http-load';
import { createBenchDatabase, startApp, startBareServer } from '../lib/processes';
import type { BenchContext } from '../lib/profile';
import { ratio } from '../lib/stats';

export interface CeilingResult {
  bareNodeHttp: LoadResult;
  healthLive: LoadResult;
  /** /health/live req/s ÷ bare node:http req/s. */
  appShareOfNode: number;
}

/**
 * The framework ceiling: a bare node:http JSON server, then the app's GET /health/live (the whole
 * Nest + Express middleware stack, no database), both at saturation with autocannon.
 */
export async function runCeiling(ctx: BenchContext): Promise<CeilingResult> {
  const { profile } = ctx;
  const load = { connections: profile.connections, seconds: profile.seconds };

  ctx.log('ceiling: bare node:http');
  const bare = await startBareServer();
  let bareNodeHttp: LoadResult;
  try {
    bareNodeHttp = await saturate(
      { url: bare.url, path: '/' },
      { ...load, warmupSeconds: profile.warmupSeconds, cpu: bare.proc },
    );
  } finally {
    await bare.proc.stop();
  }

  ctx.log('ceiling: app GET /health/live');
  const db = await createBenchDatabase('sqlite');
  const app = await startApp({
    entry: ctx.appEntry,
    nodeArgs: ctx.appNodeArgs,
    databaseUrl: db.url,
    bcryptRounds: 4,
  });
  let healthLive: LoadResult;
  try {
    healthLive = await saturate(
      { url: app.url, path: '/health/live' },
      { ...load, warmupSeconds: profile.warmupSeconds, cpu: app.proc },
    );
  } finally {
    await app.stop();
    await db.drop();
  }
  return { bareNodeHttp, healthLive, appShareOfNode: ratio(healthLive.rps, bareNodeHttp.rps) };
}
