import { DataSource, type MigrationInterface } from 'typeorm';
import { AppConfig, buildDataSourceOptions } from '@app/config';
import { baseTestEnv, startTestApp, type TestApp } from './test-app';
import { createTestDatabase } from './test-database';

/** What a migration test fills the earlier schema with. */
export type PreviousSchemaFill = (
  db: DataSource,
  /** The driver's placeholder for parameter `n` (1-based): `$n` on Postgres, `?` on SQLite. */
  param: (n: number) => string,
  config: AppConfig,
) => Promise<void>;

/**
 * The test of a migration: a fresh database built by `migrations` (what an earlier release had)
 * and filled by `fill`, then the app started on it, which runs the migrations after those at
 * start-up. `env` goes to both (e.g. one SECRET_KEY); `close()` also drops the database.
 */
export async function startAppOnPreviousSchema(
  migrations: (new () => MigrationInterface)[],
  fill: PreviousSchemaFill,
  env: Record<string, string> = baseTestEnv(),
): Promise<TestApp> {
  const database = await createTestDatabase();
  try {
    const config = AppConfig.fromEnv({ ...env, DATABASE_URL: database.url });
    const db = new DataSource({
      ...buildDataSourceOptions(config.database),
      migrations,
      migrationsRun: false,
    });
    await db.initialize();
    try {
      await db.runMigrations();
      await fill(db, db.options.type === 'postgres' ? (n) => `$${n}` : () => '?', config);
    } finally {
      await db.destroy();
    }
    const app = await startTestApp({ ...env, DATABASE_URL: database.url });
    return {
      ...app,
      close: async () => {
        await app.close();
        await database.drop();
      },
    };
  } catch (error) {
    await database.drop();
    throw error;
  }
}
