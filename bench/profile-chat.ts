/**
 * A CPU profile of the app under one chat endpoint alone: starts the simulator and the built app
 * with `node --cpu-prof`, saturates POST /api/chat (or, with `--endpoint v1`, a stateless
 * streamed POST /v1/chat/completions with usage, as the openai SDK sends it, with an API key) for
 * `--seconds`, stops the app (which writes the profile) and prints where the time went
 * (bench/profile-summary.ts).
 *
 *   npx ts-node --transpile-only -r tsconfig-paths/register bench/profile-chat.ts \
 *     [--app dist/src/main.js] [--db sqlite|postgres] [--seconds 10] [--connections 32] [--endpoint chat|v1]
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import {
  chatPoolTarget,
  ChatSessionPool,
  createApiKey,
  createUsers,
  v1StreamTarget,
} from './lib/app-client';
import { type AutocannonTarget, HttpClient, saturate } from './lib/http-load';
import {
  createBenchDatabase,
  ROOT,
  SIM_MODEL,
  startApp,
  startSimulator,
  stopAll,
} from './lib/processes';
import { CHAT_REPLY_TOKENS } from './scenarios/chat';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      app: { type: 'string', default: join(ROOT, 'dist', 'src', 'main.js') },
      db: { type: 'string', default: 'sqlite' },
      seconds: { type: 'string', default: '10' },
      connections: { type: 'string', default: '32' },
      endpoint: { type: 'string', default: 'chat' },
    },
  });
  const dir = mkdtempSync(join(tmpdir(), 'chatbot-chat-profile-'));
  const sim = await startSimulator({ chunkDelayMs: 0, tokens: CHAT_REPLY_TOKENS });
  const db = await createBenchDatabase(values.db as 'sqlite' | 'postgres');
  const app = await startApp({
    entry: resolve(values.app),
    databaseUrl: db.url,
    bcryptRounds: 4,
    simulatorUrl: sim.url,
    nodeArgs: ['--cpu-prof', '--cpu-prof-dir', dir],
  });
  const client = new HttpClient(app.url);
  try {
    const load = {
      connections: Number(values.connections),
      seconds: Number(values.seconds),
      warmupSeconds: 2,
      cpu: app.proc,
    };
    const endpoint = values.endpoint === 'v1' ? '/v1/chat/completions' : '/api/chat';
    const result =
      values.endpoint === 'v1'
        ? await saturate(await v1Target(client, app.url), load)
        : await saturate(await chatTarget(client, app.url), load);
    console.log(
      `POST ${endpoint}: ${result.rps} req/s, p50 ${result.latency.p50} ms, p99 ${result.latency.p99} ms, ` +
        `${result.failed} failed, app CPU ${result.cpuMsPerRequest} ms per request (profiling slows it down)`,
    );
  } finally {
    client.close();
    await app.stop();
    await sim.proc.stop();
    await db.drop();
  }
  const profile = readdirSync(dir).find((name) => name.endsWith('.cpuprofile'));
  if (!profile) throw new Error(`no profile written in ${dir}`);
  console.log(`profile: ${join(dir, profile)} (start-up included; open it in Chrome DevTools)`);
  spawnSync(
    process.execPath,
    [
      '-r',
      'ts-node/register/transpile-only',
      join(ROOT, 'bench/profile-summary.ts'),
      join(dir, profile),
      '--top',
      '25',
    ],
    { stdio: 'inherit', env: { ...process.env, TS_NODE_PROJECT: join(ROOT, 'tsconfig.json') } },
  );
}

/** POST /api/chat on 16 users' sessions of 5 turns each. */
async function chatTarget(client: HttpClient, url: string): Promise<AutocannonTarget> {
  return chatPoolTarget(url, new ChatSessionPool(await createUsers(client, 16, 'profile-'), 5));
}

/** A stateless streamed POST /v1/chat/completions with usage (the SDK's call) with an API key. */
async function v1Target(client: HttpClient, url: string): Promise<AutocannonTarget> {
  const [token] = await createUsers(client, 1, 'profile-v1-');
  return v1StreamTarget(url, await createApiKey(client, token, ['chat']), SIM_MODEL);
}

main()
  .catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exitCode = 1;
  })
  .finally(() => stopAll().then(() => process.exit()));
