import { createHash } from 'node:crypto';
import { hash } from 'bcrypt';
import { DataSource, type MigrationInterface } from 'typeorm';
import { AppConfig, buildDataSourceOptions } from '@app/config';
import { baseTestEnv, startTestApp, type TestApp } from './test-app';
import { createTestDatabase } from './test-database';

/** The previous release's database, open for filling: the DataSource and its placeholder style. */
export interface PreviousSchema {
  db: DataSource;
  /** The n-th query placeholder in the driver's style (`$n` or `?`). */
  p: (n: number) => string;
  /** `password` as PasswordHasher stores it (bcrypt of its SHA-256, cheap rounds). */
  passwordHash(password: string): Promise<string>;
}

/**
 * Builds the schema of an earlier release on `url` (only `migrations`, in order), lets `fill`
 * write the data that release would have held, and closes the connection. Migration suites then
 * start the current app on the same database to check the upgrade.
 */
export async function fillPreviousSchema(
  url: string,
  migrations: (new () => MigrationInterface)[],
  fill: (schema: PreviousSchema) => Promise<void>,
): Promise<void> {
  const config = AppConfig.fromEnv({ ...baseTestEnv(), DATABASE_URL: url });
  const db = new DataSource({
    ...buildDataSourceOptions(config.database),
    migrations,
    migrationsRun: false,
  });
  await db.initialize();
  try {
    await db.runMigrations();
    await fill({
      db,
      p: db.options.type === 'postgres' ? (n) => `$${n}` : () => '?',
      passwordHash: async (password) =>
        hash(createHash('sha256').update(password, 'utf8').digest('base64'), 4),
    });
  } finally {
    await db.destroy();
  }
}

/**
 * The current app started on a database that an earlier release built (`migrations`) and `fill`
 * filled: the upgrade runs at start-up, as in production. `close()` also drops that database.
 */
export async function startAppOnPreviousSchema(
  migrations: (new () => MigrationInterface)[],
  fill: (schema: PreviousSchema) => Promise<void>,
  env: Record<string, string> = {},
): Promise<TestApp> {
  const database = await createTestDatabase();
  try {
    await fillPreviousSchema(database.url, migrations, fill);
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
