import OpenAI from 'openai';
import {
  chatBody,
  chatPoolTarget,
  ChatSessionPool,
  createUsers,
  sdkCompletion,
  sessionIdOf,
} from '../lib/app-client';
import { closedLoop, HttpClient, openLoop, saturate, type LoadResult } from '../lib/http-load';
import { createBenchDatabase, startApp, startSimulator } from '../lib/processes';
import { forEachDatabase, type SkippedDatabase } from '../lib/databases';
import type { BenchContext } from '../lib/profile';
import { ratio, round } from '../lib/stats';

/** Words of the simulated reply to every chat request. */
export const CHAT_REPLY_TOKENS = 12;

export interface ChatRatePoint {
  rate: number;
  /** Offered rate ÷ the chat saturation rate of this run: near or above 1, latency is queueing. */
  shareOfCapacity: number;
  direct: LoadResult;
  chat: LoadResult;
  /** chat latency − direct latency at the same offered load, ms. */
  addedP50: number;
  addedP99: number;
}

export interface ChatDbResult {
  database: 'sqlite' | 'postgres';
  /** The same app process's GET /health/live at saturation (the framework ceiling). */
  healthCeiling: LoadResult;
  /** GET /api/users/me at saturation: the framework plus JWT auth and one database read. */
  authedRead: LoadResult;
  /** The openai SDK straight to the simulator, from this process (the baseline). */
  directSaturation: LoadResult;
  chatSaturation: LoadResult;
  /** chat req/s ÷ /health/live req/s. */
  shareOfCeiling: number;
  /** chat req/s ÷ direct SDK req/s. */
  shareOfDirect: number;
  rates: ChatRatePoint[];
}

export type ChatResult = (ChatDbResult | SkippedDatabase)[];

/**
 * POST /api/chat (JWT, validation, session load, context, both messages stored, the provider
 * called through the openai SDK) against the simulator answering instantly, vs the same SDK call
 * made straight to the simulator: at saturation and at fixed offered loads.
 */
export async function runChat(ctx: BenchContext): Promise<ChatResult> {
  return forEachDatabase(ctx, ctx.profile.chatDatabases, (database) =>
    runOnDatabase(ctx, database),
  );
}

async function runOnDatabase(
  ctx: BenchContext,
  database: 'sqlite' | 'postgres',
): Promise<ChatDbResult> {
  const { profile } = ctx;
  const sim = await startSimulator({ chunkDelayMs: 0, tokens: CHAT_REPLY_TOKENS });
  const db = await createBenchDatabase(database);
  const app = await startApp({
    entry: ctx.appEntry,
    nodeArgs: ctx.appNodeArgs,
    databaseUrl: db.url,
    bcryptRounds: 4,
    simulatorUrl: sim.url,
  });
  const client = new HttpClient(app.url);
  const sdk = new OpenAI({ apiKey: 'sim-key', baseURL: `${sim.url}/v1`, maxRetries: 0 });
  try {
    const tokens = await createUsers(client, 16, `chat-${database}-`);
    const sat = {
      connections: profile.connections,
      seconds: profile.seconds,
      warmupSeconds: profile.warmupSeconds,
    };

    ctx.log(`chat [${database}]: /health/live ceiling`);
    const healthCeiling = await saturate(
      { url: app.url, path: '/health/live' },
      { ...sat, cpu: app.proc },
    );

    ctx.log(`chat [${database}]: GET /api/users/me (auth + one read)`);
    const authedRead = await saturate(
      { url: app.url, path: '/api/users/me', headers: { authorization: `Bearer ${tokens[0]}` } },
      { ...sat, cpu: app.proc },
    );

    // The call the app makes upstream: the same SDK, streamed, usage requested.
    const direct = sdkCompletion(sdk, 'sim-model');

    ctx.log(`chat [${database}]: direct SDK → simulator at saturation`);
    const directSaturation = await closedLoop(direct, {
      concurrency: profile.connections,
      seconds: profile.seconds,
      warmupSeconds: profile.warmupSeconds,
      cpu: sim.proc,
    });

    ctx.log(`chat [${database}]: POST /api/chat at saturation`);
    const pool = new ChatSessionPool(tokens, profile.turnsPerSession);
    const chatSaturation = await saturate(chatPoolTarget(app.url, pool), { ...sat, cpu: app.proc });

    const rates: ChatRatePoint[] = [];
    for (const rate of profile.chatRates) {
      ctx.log(`chat [${database}]: ${rate} req/s, direct then through the app`);
      // Past the app's capacity, at most 512 requests wait at once; the rest count as `late`.
      const load = {
        rate,
        seconds: profile.rateSeconds,
        warmupSeconds: profile.warmupSeconds / 2,
        maxInFlight: 512,
      };
      const directPoint = await openLoop(direct, { ...load, cpu: sim.proc });
      const ratePool = new ChatSessionPool(tokens, profile.turnsPerSession);
      const chatPoint = await openLoop(
        async () => {
          const slot = ratePool.take();
          let sessionId: string | null = null;
          try {
            const res = await client.request('POST', '/api/chat', {
              headers: { authorization: `Bearer ${slot.token}` },
              body: chatBody(slot.sessionId),
            });
            if (res.status === 200) sessionId = sessionIdOf(res.body);
            return res.status;
          } finally {
            ratePool.give(slot, sessionId);
          }
        },
        { ...load, cpu: app.proc },
      );
      rates.push({
        rate,
        shareOfCapacity: ratio(rate, chatSaturation.rps, 2),
        direct: directPoint,
        chat: chatPoint,
        addedP50: round(chatPoint.latency.p50 - directPoint.latency.p50),
        addedP99: round(chatPoint.latency.p99 - directPoint.latency.p99),
      });
    }

    return {
      database,
      healthCeiling,
      authedRead,
      directSaturation,
      chatSaturation,
      shareOfCeiling: ratio(chatSaturation.rps, healthCeiling.rps),
      shareOfDirect: ratio(chatSaturation.rps, directSaturation.rps),
      rates,
    };
  } finally {
    client.close();
    await app.stop();
    await sim.proc.stop();
    await db.drop();
  }
}
