import { chatBody, CHAT_MESSAGE, createApiKey, createUsers, sdkCalls } from '../lib/app-client';
import { closedLoop, HttpClient, openLoop, saturate, type LoadResult } from '../lib/http-load';
import { createBenchDatabase, SIM_MODEL, startApp, startSimulator } from '../lib/processes';
import type { BenchContext } from '../lib/profile';
import { median, ratio, round } from '../lib/stats';
import { CHAT_REPLY_TOKENS } from './chat';

export interface OpenAiRatePoint {
  rate: number;
  /** Offered rate ÷ the /v1 saturation rate of this run: near or above 1, latency is queueing. */
  shareOfCapacity: number;
  /** The openai SDK straight to the simulator. */
  direct: LoadResult;
  /** The same SDK call to /v1/chat/completions (stateless), with a personal API key. */
  v1: LoadResult;
  addedP50: number;
  addedP99: number;
}

export interface OpenAiResult {
  /**
   * GET /api/models with an access token (JWT) and with a personal API key, at saturation: the
   * round whose CPU per request is the median of `authRounds` interleaved rounds.
   */
  modelsWithJwt: LoadResult;
  modelsWithKey: LoadResult;
  /** Rounds of JWT then key (every other round key then JWT), so drifting load hits both alike. */
  authRounds: number;
  /** Each round's API-key CPU per request ÷ the same round's JWT CPU per request. */
  keyCpuVsJwtByRound: number[];
  /** The median of keyCpuVsJwtByRound (≤ 1: a key costs no more). */
  keyCpuVsJwt: number;
  /** POST /api/chat (new session each time) and POST /v1/chat/completions (stateless), saturated. */
  chatSaturation: LoadResult;
  v1Saturation: LoadResult;
  /** /v1 req/s ÷ /api/chat req/s. */
  v1VsChat: number;
  rates: OpenAiRatePoint[];
}

/** Interleaved rounds per profile: one proves the script runs, more make the median robust. */
const AUTH_ROUNDS: Record<BenchContext['profile']['name'], number> = {
  smoke: 1,
  quick: 5,
  full: 7,
};

/**
 * API-key vs JWT authentication CPU: `AUTH_ROUNDS` rounds of both saturations back to back, the
 * order swapped every round, each round's key ÷ JWT ratio, and their median. Two saturation runs
 * of one route differ by 5–30% on this shared machine; paired, interleaved rounds cancel the drift.
 */
async function compareAuth(
  ctx: BenchContext,
  sat: Parameters<typeof saturate>[1],
  jwt: Parameters<typeof saturate>[0],
  key: Parameters<typeof saturate>[0],
): Promise<
  Pick<
    OpenAiResult,
    'modelsWithJwt' | 'modelsWithKey' | 'authRounds' | 'keyCpuVsJwtByRound' | 'keyCpuVsJwt'
  >
> {
  const rounds = AUTH_ROUNDS[ctx.profile.name];
  const seconds = Math.max(1, sat.seconds / 2);
  await saturate(jwt, { ...sat, seconds: sat.warmupSeconds || 0.5, warmupSeconds: 0 });
  await saturate(key, { ...sat, seconds: sat.warmupSeconds || 0.5, warmupSeconds: 0 });
  const withJwt: LoadResult[] = [];
  const withKey: LoadResult[] = [];
  for (let i = 0; i < rounds; i++) {
    ctx.log(`openai: GET /api/models with a JWT and with an API key, round ${i + 1}/${rounds}`);
    const run = (target: typeof jwt) => saturate(target, { ...sat, seconds, warmupSeconds: 0 });
    if (i % 2 === 0) {
      withJwt.push(await run(jwt));
      withKey.push(await run(key));
    } else {
      withKey.push(await run(key));
      withJwt.push(await run(jwt));
    }
  }
  const cpu = (result: LoadResult) => result.cpuMsPerRequest ?? NaN;
  const byRound = withKey.map((result, i) => ratio(cpu(result), cpu(withJwt[i])));
  return {
    modelsWithJwt: medianBy(withJwt, cpu),
    modelsWithKey: medianBy(withKey, cpu),
    authRounds: rounds,
    keyCpuVsJwtByRound: byRound,
    keyCpuVsJwt: round(median(byRound)),
  };
}

/** The element whose `key` is the (lower) median. */
function medianBy<T>(items: T[], key: (item: T) => number): T {
  const sorted = [...items].sort((a, b) => key(a) - key(b));
  return sorted[Math.floor((sorted.length - 1) / 2)];
}

/**
 * The OpenAI-compatible surface (issue 14) on SQLite, against the simulator answering at once:
 * API-key vs JWT authentication cost, /v1/chat/completions vs /api/chat throughput, and the
 * latency /v1 adds over calling the simulator with the same SDK call.
 */
export async function runOpenAi(ctx: BenchContext): Promise<OpenAiResult> {
  const { profile } = ctx;
  const sim = await startSimulator({ chunkDelayMs: 0, tokens: CHAT_REPLY_TOKENS });
  const db = await createBenchDatabase('sqlite');
  const app = await startApp({
    entry: ctx.appEntry,
    nodeArgs: ctx.appNodeArgs,
    databaseUrl: db.url,
    bcryptRounds: 4,
    simulatorUrl: sim.url,
  });
  const client = new HttpClient(app.url);
  try {
    const [token] = await createUsers(client, 1, 'openai-');
    const key = await createApiKey(client, token, ['chat', 'models']);
    const sat = {
      connections: profile.connections,
      seconds: profile.seconds,
      warmupSeconds: profile.warmupSeconds,
      cpu: app.proc,
    };
    const models = (bearer: string) => ({
      url: app.url,
      path: '/api/models',
      headers: { authorization: `Bearer ${bearer}` },
    });
    const auth = await compareAuth(ctx, sat, models(token), models(key));

    const completionBody = JSON.stringify({
      model: SIM_MODEL,
      messages: [{ role: 'user', content: CHAT_MESSAGE }],
    });
    ctx.log('openai: POST /api/chat, then POST /v1/chat/completions, at saturation');
    const chatSaturation = await saturate(
      {
        url: app.url,
        method: 'POST',
        path: '/api/chat',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: chatBody(null),
      },
      sat,
    );
    const v1Saturation = await saturate(
      {
        url: app.url,
        method: 'POST',
        path: '/v1/chat/completions',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
        body: completionBody,
      },
      sat,
    );

    // The same SDK call, streamed with usage, to the simulator and to /v1.
    const { direct, v1 } = sdkCalls(sim.url, app.url, key, SIM_MODEL);
    // Warm both clients' connection pools before measuring.
    await closedLoop(direct, { concurrency: 4, seconds: profile.warmupSeconds || 0.5 });
    await closedLoop(v1, { concurrency: 4, seconds: profile.warmupSeconds || 0.5 });

    const rates: OpenAiRatePoint[] = [];
    // First a load well inside this run's capacity (what the added-latency target reads), then
    // the chat scenario's fixed rates.
    const inside = Math.max(5, Math.round(v1Saturation.rps * 0.3));
    for (const rate of [inside, ...profile.chatRates.filter((r) => r !== inside)]) {
      ctx.log(`openai: ${rate} req/s, SDK → simulator then SDK → /v1`);
      const load = {
        rate,
        seconds: profile.rateSeconds,
        warmupSeconds: profile.warmupSeconds / 2,
        maxInFlight: 512,
      };
      const directPoint = await openLoop(direct, { ...load, cpu: sim.proc });
      const v1Point = await openLoop(v1, { ...load, cpu: app.proc });
      rates.push({
        rate,
        shareOfCapacity: ratio(rate, v1Saturation.rps, 2),
        direct: directPoint,
        v1: v1Point,
        addedP50: round(v1Point.latency.p50 - directPoint.latency.p50),
        addedP99: round(v1Point.latency.p99 - directPoint.latency.p99),
      });
    }
    return {
      ...auth,
      chatSaturation,
      v1Saturation,
      v1VsChat: ratio(v1Saturation.rps, chatSaturation.rps),
      rates,
    };
  } finally {
    client.close();
    await app.stop();
    await sim.proc.stop();
    await db.drop();
  }
}
