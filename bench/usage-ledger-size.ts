/**
 * Measures the usage ledger's size on disk per row (table + indexes) and the time of a 90-day
 * report, on a throw-away database: `TEST_POSTGRES_URL=… npx ts-node --transpile-only -r
 * tsconfig-paths/register bench/usage-ledger-size.ts [rows] [postgres|sqlite]`.
 * Rows are written as the app writes them (UsageLedger: multi-row INSERTs of 500).
 */
import { randomUUID } from 'node:crypto';
import { statSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { DataSource } from 'typeorm';
import { AppConfig, buildDataSourceOptions } from '@app/config';
import { baseTestEnv, createTestDatabase } from '@app/testing';
import { MIGRATIONS } from '../src/database/migrations';
import { UsageRecord } from '../src/usage/entities/usage-record.entity';
import { UsageService } from '../src/usage/usage.service';

const MODELS = [
  'groq/llama-3.1-8b-instant',
  'openrouter/openai/gpt-4o-mini',
  'gemini/gemini-2.5-flash',
];
const DAY_MS = 86_400_000;

async function main(): Promise<void> {
  const rows = Number(process.argv[2] ?? 200_000);
  const kind = (process.argv[3] ?? 'postgres') as 'postgres' | 'sqlite';
  const database = await createTestDatabase(kind);
  const config = AppConfig.fromEnv({ ...baseTestEnv(), DATABASE_URL: database.url });
  const db = new DataSource({ ...buildDataSourceOptions(config.database), migrations: MIGRATIONS });
  await db.initialize();
  try {
    await db.runMigrations();
    const users = Array.from({ length: 1000 }, () => randomUUID());
    const now = Date.now();
    for (let written = 0; written < rows; written += 500) {
      const batch = Array.from({ length: Math.min(500, rows - written) }, (_, i) => {
        const n = written + i;
        const model = MODELS[n % MODELS.length];
        return {
          userId: users[n % users.length],
          apiKeyId: n % 4 === 0 ? randomUUID() : null,
          sessionId: randomUUID(),
          messageId: randomUUID(),
          provider: model.split('/')[0],
          model,
          keyAlias: `${model.split('/')[0]}#${(n % 3) + 1}`,
          promptTokens: 200 + (n % 3000),
          completionTokens: 50 + (n % 800),
          cachedTokens: n % 5 === 0 ? 128 : 0,
          costMicros: 1000 + (n % 50_000),
          latencyMs: 400 + (n % 5000),
          ttftMs: 150 + (n % 900),
          status: n % 50 === 0 ? 'server' : 'success',
          fallbackStep: 0,
          retry: 0,
          createdAt: new Date(now - (n % 90) * DAY_MS - (n % 86_400) * 1000),
        };
      });
      await db
        .createQueryBuilder()
        .insert()
        .into(UsageRecord)
        .values(batch)
        .updateEntity(false)
        .execute();
    }
    let bytes: number;
    if (kind === 'postgres') {
      await db.query('VACUUM ANALYZE usage_records');
      const [size] = await db.query(
        `SELECT pg_relation_size('usage_records') AS heap, pg_indexes_size('usage_records') AS indexes,
                pg_total_relation_size('usage_records') AS total`,
      );
      console.log(`heap ${size.heap} B, indexes ${size.indexes} B, total ${size.total} B`);
      bytes = Number(size.total);
    } else {
      await db.query('PRAGMA wal_checkpoint(TRUNCATE)');
      bytes = statSync(config.database.sqlitePath!).size;
      console.log(`database file ${bytes} B`);
    }
    console.log(
      `${rows} rows on ${kind}: ${(bytes / rows).toFixed(1)} B per row, ` +
        `${(((bytes / rows) * 1e6) / 2 ** 30).toFixed(2)} GiB per million rows`,
    );
    const usage = new UsageService(db);
    const from = new Date(now - 89 * DAY_MS).toISOString().slice(0, 10);
    const to = new Date(now).toISOString().slice(0, 10);
    for (const [what, run] of [
      ['90-day report, one user', () => usage.report(users[0], { from, to, group_by: 'day' })],
      ['90-day totals, all users', () => usage.totalsByUser(from, to)],
    ] as const) {
      const times: number[] = [];
      for (let i = 0; i < 20; i++) {
        const started = performance.now();
        await run();
        times.push(performance.now() - started);
      }
      times.sort((a, b) => a - b);
      console.log(`${what}: median ${times[10].toFixed(1)} ms, max ${times[19].toFixed(1)} ms`);
    }
  } finally {
    await db.destroy();
    await database.drop();
  }
}

void main();
