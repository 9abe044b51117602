import { createHash, randomUUID } from 'node:crypto';
import { hash } from 'bcrypt';
import request from 'supertest';
import { DataSource, type MigrationInterface, type QueryRunner } from 'typeorm';
import { AppConfig, buildDataSourceOptions } from '@app/config';
import { baseTestEnv, createTestDatabase, startTestApp, type TestApp } from '@app/testing';

/** The account and conversation an earlier release left in the database. */
export interface PreviousRelease {
  userId: string;
  email: string;
  password: string;
  sessionId: string;
  messageId: string;
  title: string;
  content: string;
}

/**
 * The database at `url` as an earlier release left it: only `migrations` applied, then one user
 * (password stored as PasswordHasher stores it) with a one-message conversation titled `title`.
 */
export async function seedPreviousRelease(
  url: string,
  migrations: (new () => MigrationInterface)[],
  title: string,
): Promise<PreviousRelease> {
  const seed: PreviousRelease = {
    userId: randomUUID(),
    email: `old-${randomUUID().slice(0, 8)}@example.com`,
    password: 'correct horse battery staple',
    sessionId: randomUUID(),
    messageId: randomUUID(),
    title,
    content: 'hello from the past',
  };
  const config = AppConfig.fromEnv({ ...baseTestEnv(), DATABASE_URL: url });
  const db = new DataSource({
    ...buildDataSourceOptions(config.database),
    migrations,
    migrationsRun: false,
  });
  await db.initialize();
  try {
    await db.runMigrations();
    const p = db.options.type === 'postgres' ? (n: number) => `$${n}` : () => '?';
    await db.query(
      `INSERT INTO users (id, email, password_hash) VALUES (${p(1)}, ${p(2)}, ${p(3)})`,
      [
        seed.userId,
        seed.email, // As PasswordHasher stores it: bcrypt of the password's SHA-256 (base64).
        await hash(createHash('sha256').update(seed.password, 'utf8').digest('base64'), 4),
      ],
    );
    await db.query(
      `INSERT INTO chat_sessions (id, user_id, title, message_count, last_message) VALUES (${p(1)}, ${p(2)}, ${p(3)}, 1, ${p(4)})`,
      [seed.sessionId, seed.userId, title, seed.content],
    );
    await db.query(
      `INSERT INTO chat_messages (id, session_id, seq, role, content) VALUES (${p(1)}, ${p(2)}, 1, 'user', ${p(3)})`,
      [seed.messageId, seed.sessionId, seed.content],
    );
  } finally {
    await db.destroy();
  }
  return seed;
}

/** The app started on a database the previous release left (it migrates it at start-up). */
export interface UpgradedApp {
  t: TestApp;
  old: PreviousRelease;
  /** Logs the old user in; their access token. */
  login(): Promise<string>;
  close(): Promise<void>;
}

/** A fresh database seeded by seedPreviousRelease, then the app started on it. */
export async function startUpgradedApp(
  migrations: (new () => MigrationInterface)[],
  title: string,
): Promise<UpgradedApp> {
  const database = await createTestDatabase();
  const old = await seedPreviousRelease(database.url, migrations, title);
  const t = await startTestApp({ DATABASE_URL: database.url, RATE_LIMIT__AUTH_PER_MINUTE: '1000' });
  return {
    t,
    old,
    login: async () =>
      (
        await request(t.url)
          .post('/api/auth/login')
          .send({ email: old.email, password: old.password })
          .expect(200)
      ).body.access_token as string,
    close: async () => {
      await t.close();
      await database.drop();
    },
  };
}

/** Runs `migration` down, then up again, on the app's database, checking after each step. */
export async function revertAndReapply(
  t: TestApp,
  migration: MigrationInterface,
  checks: {
    afterDown(runner: QueryRunner): Promise<void>;
    afterUp(runner: QueryRunner): Promise<void>;
  },
): Promise<void> {
  const runner = t.app.get(DataSource).createQueryRunner();
  try {
    await migration.down(runner);
    await checks.afterDown(runner);
    await migration.up(runner);
    await checks.afterUp(runner);
  } finally {
    await runner.release();
  }
}
