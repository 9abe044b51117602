/**
 * Before/after comparison of two builds of the app: runs the chat benchmark (SQLite by default)
 * or, with `--scenario openai`, the /v1 benchmark (API key vs JWT, /v1 and /api/chat saturation,
 * the latency /v1 adds at 30% of its capacity) alternately on build A and build B, `--rounds`
 * times each, so that drifting load on a shared machine hits both alike, and prints every round
 * and the medians. `--scenario v1` keeps both builds running and alternates short rounds on the
 * /v1 path only (CPU per stateless streamed completion at saturation with `--connections`, added
 * latency of the same SDK call at `--rate`), the order swapped every round, and adds the median of
 * the paired rounds' B ÷ A CPU. `--scenario chat-cpu` does the same on POST /api/chat at saturation
 * (CPU per request only: many short paired rounds where the chat scenario runs few long ones).
 *
 *   git stash -- src/x.ts && npm run build && cp -r dist /tmp/…   # however you keep two builds
 *   npx ts-node --transpile-only -r tsconfig-paths/register bench/ab.ts \
 *     --a before/dist/src/main.js --b dist/src/main.js [--rounds 3] [--db sqlite|postgres] [--seconds 8]
 *     [--scenario chat|openai|v1|chat-cpu] [--rate 30 (openai, v1: the fixed rate of the added-latency point)]
 *     [--connections 8 (v1, chat-cpu)] [--auth jwt|api-key (chat-cpu: what each request carries)]
 *
 * The builds must sit inside this repository (they resolve node_modules from here), e.g. under
 * bench/dist/ (git-ignored).
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { isSkipped } from './lib/databases';
import { stopAll } from './lib/processes';
import { type BenchContext, PROFILES } from './lib/profile';
import { median, round } from './lib/stats';
import { type ChatDbResult, runChat } from './scenarios/chat';
import { type OpenAiResult, runOpenAi } from './scenarios/openai';
import { startChatContender } from './scenarios/chat-contender';
import { type Contender, startV1Contender } from './scenarios/v1-contender';

type Figures = Record<string, number>;

/** Each scenario: how one round runs and which of its figures are compared. */
const SCENARIOS: Record<string, (ctx: BenchContext) => Promise<Figures>> = {
  chat: async (ctx) => {
    const [result] = await runChat(ctx);
    if (isSkipped(result)) throw new Error(result.skipped);
    return chatFigures(result);
  },
  openai: async (ctx) => openAiFigures(await runOpenAi(ctx)),
};

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      a: { type: 'string' },
      b: { type: 'string' },
      rounds: { type: 'string', default: '3' },
      db: { type: 'string', default: 'sqlite' },
      seconds: { type: 'string', default: '8' },
      scenario: { type: 'string', default: 'chat' },
      rate: { type: 'string', default: '30' },
      connections: { type: 'string', default: '8' },
      auth: { type: 'string', default: 'jwt' },
    },
  });
  if (!values.a || !values.b) throw new Error('usage: ab.ts --a <main.js> --b <main.js>');
  const builds = { A: resolve(values.a), B: resolve(values.b) };
  const running = {
    rounds: Number(values.rounds),
    seconds: Number(values.seconds),
    rate: Number(values.rate),
    connections: Number(values.connections),
    auth: values.auth === 'api-key' ? ('api-key' as const) : ('jwt' as const),
  };
  if (values.scenario === 'v1' || values.scenario === 'chat-cpu') {
    const start = values.scenario === 'v1' ? startV1Contender : startChatContender;
    const cpuKey = values.scenario === 'v1' ? 'v1CpuMs' : 'chatCpuMs';
    await abRunning(builds, running, cpuKey, (name, entry) => start(name, entry, running));
    return;
  }
  const scenario = SCENARIOS[values.scenario];
  if (!scenario) {
    throw new Error(`unknown scenario "${values.scenario}" (chat, openai, v1, chat-cpu)`);
  }
  const database = values.db as 'sqlite' | 'postgres';
  const seconds = Number(values.seconds);
  const profile = {
    ...PROFILES.quick,
    seconds,
    rateSeconds: seconds,
    // The openai scenario measures its added latency at 30% of the build's capacity, then at
    // these: one rate both builds share.
    chatRates: [values.scenario === 'openai' ? Number(values.rate) : 200],
    chatDatabases: [database],
  };
  const log = (message: string) => console.error(`[ab] ${message}`);
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
      const figures = await scenario(ctx);
      rows[name].push(figures);
      console.log(`round ${round} ${name}: ${JSON.stringify(figures)}`);
      await stopAll();
    }
  }
  printMedians(rows);
}

/** Both builds running at once; rounds alternate, the order swapped every round. */
async function abRunning(
  builds: Record<'A' | 'B', string>,
  options: { rounds: number },
  cpuKey: string,
  start: (name: 'A' | 'B', entry: string) => Promise<Contender>,
): Promise<void> {
  const contenders = { A: await start('A', builds.A), B: await start('B', builds.B) };
  const rows: Record<'A' | 'B', Figures[]> = { A: [], B: [] };
  for (let i = 0; i < options.rounds; i++) {
    for (const name of i % 2 === 0 ? (['A', 'B'] as const) : (['B', 'A'] as const)) {
      const figures = await contenders[name].round();
      rows[name].push(figures);
      console.log(`round ${i + 1} ${name}: ${JSON.stringify(figures)}`);
    }
  }
  printMedians(rows);
  const paired = rows.B.map((r, i) => r[cpuKey] / rows.A[i][cpuKey]);
  console.log(`  ${cpuKey} B÷A, median of paired rounds: ×${round(median(paired), 3)}`);
}

function printMedians(rows: Record<'A' | 'B', Figures[]>): void {
  console.log('\nmedians (A → B):');
  for (const key of Object.keys(rows.A[0])) {
    const a = round(median(rows.A.map((r) => r[key])));
    const b = round(median(rows.B.map((r) => r[key])));
    console.log(`  ${key.padEnd(16)} ${a} → ${b}  (×${round(b / a, 2)})`);
  }
}

function chatFigures(result: ChatDbResult): Figures {
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

function openAiFigures(result: OpenAiResult): Figures {
  const inside = result.rates[0];
  const fixed = result.rates[result.rates.length - 1];
  return {
    keyCpuVsJwt: result.keyCpuVsJwt,
    v1Rps: result.v1Saturation.rps,
    v1CpuMs: result.v1Saturation.cpuMsPerRequest ?? NaN,
    chatRps: result.chatSaturation.rps,
    chatCpuMs: result.chatSaturation.cpuMsPerRequest ?? NaN,
    rateAt30: inside.rate,
    directP50At30: inside.direct.latency.p50,
    v1P50At30: inside.v1.latency.p50,
    addedP50At30: inside.addedP50,
    addedP99At30: inside.addedP99,
    fixedRate: fixed.rate,
    directP50AtFixed: fixed.direct.latency.p50,
    addedP50AtFixed: fixed.addedP50,
    addedP99AtFixed: fixed.addedP99,
  };
}

main()
  .catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exitCode = 1;
  })
  .finally(() => stopAll().then(() => process.exit()));
