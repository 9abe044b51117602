/**
 * Before/after comparison of two builds of the app on the chat path: runs the chat benchmark
 * (SQLite by default) alternately on build A and build B, `--rounds` times each, so that drifting
 * load on a shared machine hits both alike, and prints every round and the medians.
 *
 *   git stash -- src/x.ts && npm run build && cp -r dist /tmp/…   # however you keep two builds
 *   npx ts-node --transpile-only -r tsconfig-paths/register bench/ab.ts \
 *     --a before/dist/src/main.js --b dist/src/main.js [--rounds 3] [--db sqlite|postgres] [--seconds 8]
 *
 * The builds must sit inside this repository (they resolve node_modules from here), e.g. under
 * bench/dist/ (git-ignored).
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { isSkipped } from './lib/databases';
import { stopAll } from './lib/processes';
import { type BenchContext, PROFILES } from './lib/profile';
import { round } from './lib/stats';
import { type ChatDbResult, runChat } from './scenarios/chat';

interface Figures {
  healthRps: number;
  authedReadRps: number;
  authedReadCpuMs: number;
  chatRps: number;
  chatCpuMs: number;
  addedP50At200: number;
  addedP99At200: number;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      a: { type: 'string' },
      b: { type: 'string' },
      rounds: { type: 'string', default: '3' },
      db: { type: 'string', default: 'sqlite' },
      seconds: { type: 'string', default: '8' },
    },
  });
  if (!values.a || !values.b) throw new Error('usage: ab.ts --a <main.js> --b <main.js>');
  const database = values.db as 'sqlite' | 'postgres';
  const seconds = Number(values.seconds);
  const profile = {
    ...PROFILES.quick,
    seconds,
    rateSeconds: seconds,
    chatRates: [200],
    chatDatabases: [database],
  };
  const log = (message: string) => console.error(`[ab] ${message}`);
  const builds = { A: resolve(values.a), B: resolve(values.b) };
  const rows: Record<'A' | 'B', Figures[]> = { A: [], B: [] };
  for (let round = 1; round <= Number(values.rounds); round++) {
    for (const name of ['A', 'B'] as const) {
      log(`round ${round}, build ${name}`);
      const ctx: BenchContext = {
        profile,
        appEntry: builds[name],
        bcryptRounds: 4,
        appNodeArgs: [],
        log: () => undefined,
      };
      const [result] = await runChat(ctx);
      if (isSkipped(result)) throw new Error(result.skipped);
      const figures = extract(result);
      rows[name].push(figures);
      console.log(`round ${round} ${name}: ${JSON.stringify(figures)}`);
      await stopAll();
    }
  }
  console.log('\nmedians (A → B):');
  for (const key of Object.keys(rows.A[0]) as (keyof Figures)[]) {
    const a = median(rows.A.map((r) => r[key]));
    const b = median(rows.B.map((r) => r[key]));
    console.log(`  ${key.padEnd(16)} ${a} → ${b}  (×${round(b / a, 2)})`);
  }
}

function extract(result: ChatDbResult): Figures {
  const at200 = result.rates.find((r) => r.rate === 200)!;
  return {
    healthRps: result.healthCeiling.rps,
    authedReadRps: result.authedRead.rps,
    authedReadCpuMs: result.authedRead.cpuMsPerRequest ?? NaN,
    chatRps: result.chatSaturation.rps,
    chatCpuMs: result.chatSaturation.cpuMsPerRequest ?? NaN,
    addedP50At200: at200.addedP50,
    addedP99At200: at200.addedP99,
  };
}

function median(values: number[]): number {
  const sorted = [...values].sort((x, y) => x - y);
  const mid = Math.floor(sorted.length / 2);
  return round(sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2);
}

main()
  .catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exitCode = 1;
  })
  .finally(() => stopAll().then(() => process.exit()));
