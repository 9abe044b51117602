/**
 * The message tree's read cost, one process, same run: GET /api/history/{id} on a 1,000-message
 * session with 10 branches (active path, first and last page; `?tree=full`) next to a flat
 * 1,000-message session, on SQLite and (with TEST_POSTGRES_URL) Postgres.
 *
 *   npm run bench:tree            # 500 sequential requests per case after 50 warm-ups
 *   npm run bench:tree -- 2000    # more samples
 */
import { performance } from 'node:perf_hooks';
import { registerAndLogin, serviceUrl, startTestApp, type TestApp } from '@app/testing';
import { HistoryStore, type NewMessage } from '../src/history/history-store.interface';
import { summarize } from './lib/stats';

const SAMPLES = Number(process.argv[2] ?? 500);
const WARMUP = 50;
const MESSAGES = 1_000;
const BRANCHES = 10;
/** Messages per branch: a regenerated reply, then 4 more exchanges. */
const BRANCH_SIZE = 9;

const say = (role: 'user' | 'assistant', n: number): NewMessage => ({
  role,
  content: `${role} message ${n}: ${'lorem ipsum dolor sit amet '.repeat(8)}`,
  status: 'complete',
  ...(role === 'assistant' ? { model: 'local/echo', promptTokens: 40, completionTokens: 60 } : {}),
});

/** A chain of 910 messages plus 10 branches of 9 (each a regeneration with 4 exchanges after it). */
async function seedBranched(store: HistoryStore, userId: string): Promise<string> {
  const session = await store.createSession(userId, 'Branched');
  const trunk = MESSAGES - BRANCHES * BRANCH_SIZE;
  const ids: string[] = [];
  for (let i = 0; i < trunk; i += 2) {
    const [q, a] = await store.appendMessages(session.id, [
      say('user', i),
      say('assistant', i + 1),
    ]);
    ids.push(q.id, a.id);
  }
  for (let b = 0; b < BRANCHES; b++) {
    const question = ids[b * 90];
    const regenerated = await store.appendMessage(session.id, {
      ...say('assistant', b),
      parentId: question,
    });
    let parent = regenerated.id;
    for (let e = 0; e < (BRANCH_SIZE - 1) / 2; e++) {
      const [, reply] = await store.appendMessages(session.id, [
        { ...say('user', e), parentId: parent },
        say('assistant', e),
      ]);
      parent = reply.id;
    }
  }
  // The active branch: the trunk (910 messages), whose siblings the reads must count.
  await store.setActiveLeaf(userId, session.id, ids.at(-1)!);
  return session.id;
}

async function seedFlat(store: HistoryStore, userId: string): Promise<string> {
  const session = await store.createSession(userId, 'Flat');
  for (let i = 0; i < MESSAGES; i += 2) {
    await store.appendMessages(session.id, [say('user', i), say('assistant', i + 1)]);
  }
  return session.id;
}

async function measure(t: TestApp, token: string, path: string) {
  const get = async () => {
    const res = await fetch(`${t.url}${path}`, { headers: { authorization: `Bearer ${token}` } });
    if (res.status !== 200) throw new Error(`${path}: ${res.status}`);
    await res.arrayBuffer();
  };
  for (let i = 0; i < WARMUP; i++) await get();
  const samples: number[] = [];
  for (let i = 0; i < SAMPLES; i++) {
    const start = performance.now();
    await get();
    samples.push(performance.now() - start);
  }
  return summarize(samples);
}

async function run(database: 'sqlite' | 'postgres'): Promise<void> {
  // startTestApp creates its database on the kind TEST_DB names.
  process.env.TEST_DB = database;
  const t = await startTestApp({ RATE_LIMIT__DEFAULT_PER_MINUTE: '1000000' });
  try {
    const user = await registerAndLogin(t.url);
    const store = t.app.get(HistoryStore);
    const branched = await seedBranched(store, user.id);
    const flat = await seedFlat(store, user.id);
    const cases: [string, string][] = [
      ['flat, page 1', `/api/history/${flat}?per_page=20`],
      ['flat, last page', `/api/history/${flat}?per_page=20&page=50`],
      ['branched path, page 1', `/api/history/${branched}?per_page=20`],
      ['branched path, last page', `/api/history/${branched}?per_page=20&page=46`],
      ['branched ?tree=full, page 1', `/api/history/${branched}?per_page=20&tree=full`],
      ['branched path, per_page=100', `/api/history/${branched}?per_page=100&page=10`],
    ];
    console.log(`\n${database}: ${SAMPLES} sequential requests each (ms)`);
    console.log('| case | p50 | p90 | p99 | max |\n|---|---|---|---|---|');
    for (const [name, path] of cases) {
      const s = await measure(t, user.token, path);
      const f = (v: number) => v.toFixed(2);
      console.log(`| ${name} | ${f(s.p50)} | ${f(s.p90)} | ${f(s.p99)} | ${f(s.max)} |`);
    }
  } finally {
    await t.close();
  }
}

async function main(): Promise<void> {
  await run('sqlite');
  if (serviceUrl('postgres')) {
    await run('postgres');
  } else {
    console.log('\npostgres: skipped (TEST_POSTGRES_URL is not set)');
  }
}

void main();
