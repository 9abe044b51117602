/**
 * A CPU profile of the app under POST /api/chat alone: starts the simulator and the built app
 * with `node --cpu-prof`, saturates the chat endpoint for `--seconds`, stops the app (which
 * writes the profile) and prints where the time went (bench/profile-summary.ts).
 *
 *   npx ts-node --transpile-only -r tsconfig-paths/register bench/profile-chat.ts \
 *     [--app dist/src/main.js] [--db sqlite|postgres] [--seconds 10] [--connections 32]
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import {
  chatBody,
  ChatSessionPool,
  type ChatSlot,
  createUsers,
  sessionIdOf,
} from './lib/app-client';
import { type AutocannonRequest, HttpClient, saturate } from './lib/http-load';
import { createBenchDatabase, ROOT, startApp, startSimulator, stopAll } from './lib/processes';
import { CHAT_REPLY_TOKENS } from './scenarios/chat';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      app: { type: 'string', default: join(ROOT, 'dist', 'src', 'main.js') },
      db: { type: 'string', default: 'sqlite' },
      seconds: { type: 'string', default: '10' },
      connections: { type: 'string', default: '32' },
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
    const pool = new ChatSessionPool(await createUsers(client, 16, 'profile-'), 5);
    const result = await saturate(
      {
        url: app.url,
        method: 'POST',
        path: '/api/chat',
        headers: { 'content-type': 'application/json' },
        body: chatBody(null),
        setup: (request: AutocannonRequest, context) => {
          const slot = pool.take();
          context.slot = slot;
          return {
            ...request,
            headers: { 'content-type': 'application/json', authorization: `Bearer ${slot.token}` },
            body: chatBody(slot.sessionId),
          };
        },
        onResponse: (status, body, context) => {
          const slot = context.slot as ChatSlot | undefined;
          if (slot) pool.give(slot, status === 200 ? sessionIdOf(body) : null);
        },
      },
      {
        connections: Number(values.connections),
        seconds: Number(values.seconds),
        warmupSeconds: 2,
        cpu: app.proc,
      },
    );
    console.log(
      `POST /api/chat: ${result.rps} req/s, p50 ${result.latency.p50} ms, p99 ${result.latency.p99} ms, ` +
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

main()
  .catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exitCode = 1;
  })
  .finally(() => stopAll().then(() => process.exit()));
