/**
 * Before/after comparison of two builds on the `/v1/chat/completions` path (issue 14's added
 * latency target): both builds run at once, each with its own provider simulator, SQLite
 * database and API key, and rounds alternate between them (the order swapped every round) so
 * that drifting load on a shared machine hits both alike. Each round, per build:
 *   - CPU per request: a saturation window of the stateless streamed request the openai SDK
 *     sends (`stream: true`, `include_usage`), read from the app's /proc CPU time;
 *   - added latency: the same SDK call at a fixed low rate (open loop) to the build's simulator
 *     and then to its /v1; the p50 (and p99) difference.
 * Prints every round, the medians and B ÷ A.
 *
 *   npx ts-node --transpile-only -r tsconfig-paths/register bench/ab-v1.ts \
 *     --a before/dist/src/main.js --b dist/src/main.js [--rounds 6] [--seconds 4] [--rate 20]
 *
 * The builds must resolve node_modules (a worktree with a node_modules link will do).
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { createApiKey, createUsers, sdkCalls, v1StreamTarget } from './lib/app-client';
import { closedLoop, HttpClient, openLoop, saturate } from './lib/http-load';
import { createBenchDatabase, SIM_MODEL, startApp, startSimulator, stopAll } from './lib/processes';
import { median, round } from './lib/stats';
import { CHAT_REPLY_TOKENS } from './scenarios/chat';

type Figures = Record<string, number>;

/** One build, running: how to take a round of figures from it. */
interface Contender {
  name: 'A' | 'B';
  round(): Promise<Figures>;
}

async function startContender(
  name: 'A' | 'B',
  entry: string,
  options: { seconds: number; rate: number; connections: number },
): Promise<Contender> {
  const sim = await startSimulator({ chunkDelayMs: 0, tokens: CHAT_REPLY_TOKENS });
  const db = await createBenchDatabase('sqlite');
  const app = await startApp({
    entry,
    databaseUrl: db.url,
    bcryptRounds: 4,
    simulatorUrl: sim.url,
  });
  const client = new HttpClient(app.url);
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
      const saturated = await saturate(target, {
        connections: options.connections,
        seconds: options.seconds,
        warmupSeconds: 1,
        cpu: app.proc,
      });
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

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      a: { type: 'string' },
      b: { type: 'string' },
      rounds: { type: 'string', default: '6' },
      seconds: { type: 'string', default: '4' },
      rate: { type: 'string', default: '20' },
      connections: { type: 'string', default: '8' },
    },
  });
  if (!values.a || !values.b) throw new Error('usage: ab-v1.ts --a <main.js> --b <main.js>');
  const options = {
    seconds: Number(values.seconds),
    rate: Number(values.rate),
    connections: Number(values.connections),
  };
  const a = await startContender('A', resolve(values.a), options);
  const b = await startContender('B', resolve(values.b), options);
  const rows: Record<'A' | 'B', Figures[]> = { A: [], B: [] };
  const rounds = Number(values.rounds);
  for (let i = 0; i < rounds; i++) {
    for (const contender of i % 2 === 0 ? [a, b] : [b, a]) {
      const figures = await contender.round();
      rows[contender.name].push(figures);
      console.log(`round ${i + 1} ${contender.name}: ${JSON.stringify(figures)}`);
    }
  }
  console.log('\nmedians (A → B):');
  for (const key of Object.keys(rows.A[0])) {
    const before = round(median(rows.A.map((r) => r[key])));
    const after = round(median(rows.B.map((r) => r[key])));
    console.log(`  ${key.padEnd(14)} ${before} → ${after}  (×${round(after / before, 2)})`);
  }
  const paired = rows.B.map((r, i) => r.v1CpuMs / rows.A[i].v1CpuMs);
  console.log(`  v1 CPU B÷A, median of paired rounds: ×${round(median(paired), 3)}`);
}

main()
  .catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exitCode = 1;
  })
  .finally(() => stopAll().then(() => process.exit()));
