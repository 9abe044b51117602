import { createApiKey, createUsers, sdkCalls, v1StreamTarget } from '../lib/app-client';
import {
  type AutocannonTarget,
  closedLoop,
  type CpuMeter,
  HttpClient,
  type LoadResult,
  openLoop,
  saturate,
} from '../lib/http-load';
import { createBenchDatabase, SIM_MODEL, startApp, startSimulator } from '../lib/processes';
import { round } from '../lib/stats';
import { CHAT_REPLY_TOKENS } from './chat';

/** One build, running: how to take a round of figures from it. */
export interface Contender {
  name: 'A' | 'B';
  round(): Promise<Record<string, number>>;
}

/** A contender's build, running on its own provider simulator and SQLite database. */
export async function startContenderApp(entry: string) {
  const sim = await startSimulator({ chunkDelayMs: 0, tokens: CHAT_REPLY_TOKENS });
  const db = await createBenchDatabase('sqlite');
  const app = await startApp({
    entry,
    databaseUrl: db.url,
    bcryptRounds: 4,
    simulatorUrl: sim.url,
  });
  return { sim, app, client: new HttpClient(app.url) };
}

/** A round's saturation window on `target`, with the app's CPU per request. */
export function saturateContender(
  app: { proc: CpuMeter },
  target: AutocannonTarget,
  options: { seconds: number; connections: number },
): Promise<LoadResult> {
  return saturate(target, {
    connections: options.connections,
    seconds: options.seconds,
    warmupSeconds: 1,
    cpu: app.proc,
  });
}

/**
 * A build of the app on the `/v1/chat/completions` path, kept running for every round of an A/B
 * (`bench/ab.ts --scenario v1`), with its own provider simulator, SQLite database and API key.
 * A round: a saturation window of the stateless streamed request the openai SDK sends
 * (`stream: true`, `include_usage`) for the CPU per request (the app's /proc CPU time), then the
 * same SDK call at a fixed low rate (open loop) to the simulator and to /v1 for the added latency.
 */
export async function startV1Contender(
  name: 'A' | 'B',
  entry: string,
  options: { seconds: number; rate: number; connections: number },
): Promise<Contender> {
  const { sim, app, client } = await startContenderApp(entry);
  const [token] = await createUsers(client, 1, `ab-${name}-`);
  const key = await createApiKey(client, token, ['chat']);
  client.close();
  const target = v1StreamTarget(app.url, key, SIM_MODEL);
  const { direct, v1 } = sdkCalls(sim.url, app.url, key, SIM_MODEL);
  await closedLoop(direct, { concurrency: 4, seconds: 1 });
  await closedLoop(v1, { concurrency: 4, seconds: 1 });
  const load = { rate: options.rate, seconds: options.seconds, warmupSeconds: 0.5 };
  return {
    name,
    round: async () => {
      const saturated = await saturateContender(app, target, options);
      const directPoint = await openLoop(direct, load);
      const v1Point = await openLoop(v1, { ...load, cpu: app.proc });
      return {
        v1Rps: saturated.rps,
        v1CpuMs: saturated.cpuMsPerRequest ?? NaN,
        failed: saturated.failed + v1Point.failed,
        directP50: directPoint.latency.p50,
        v1P50: v1Point.latency.p50,
        addedP50: round(v1Point.latency.p50 - directPoint.latency.p50),
        addedP99: round(v1Point.latency.p99 - directPoint.latency.p99),
        v1CpuMsAtRate: v1Point.cpuMsPerRequest ?? NaN,
      };
    },
  };
}
