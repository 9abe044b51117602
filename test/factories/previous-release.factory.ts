import { createHash, randomUUID } from 'node:crypto';
import { hash } from 'bcrypt';
import request from 'supertest';
import { DataSource, type MigrationInterface, type QueryRunner } from 'typeorm';
import {
  baseTestEnv,
  type PreviousSchemaFill,
  startAppOnPreviousSchema,
  type TestApp,
} from '@app/testing';

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
 * Fills a database built by an earlier release's migrations as that release left it: one user
 * (password stored as PasswordHasher stores it) with a one-message conversation titled `title`.
 */
async function seedPreviousRelease(
  db: DataSource,
  p: (n: number) => string,
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
  await db.query(
    `INSERT INTO users (id, email, password_hash) VALUES (${p(1)}, ${p(2)}, ${p(3)})`,
    [seed.userId, seed.email, await storedPasswordHash(seed.password)],
  );
  await db.query(
    `INSERT INTO chat_sessions (id, user_id, title, message_count, last_message) VALUES (${p(1)}, ${p(2)}, ${p(3)}, 1, ${p(4)})`,
    [seed.sessionId, seed.userId, title, seed.content],
  );
  await db.query(
    `INSERT INTO chat_messages (id, session_id, seq, role, content) VALUES (${p(1)}, ${p(2)}, 1, 'user', ${p(3)})`,
    [seed.messageId, seed.sessionId, seed.content],
  );
  return seed;
}

/** `password` as PasswordHasher stores it: bcrypt of its SHA-256 (base64), cheap rounds. */
export function storedPasswordHash(password: string): Promise<string> {
  return hash(createHash('sha256').update(password, 'utf8').digest('base64'), 4);
}

/** The app started on a database the previous release left (it migrates it at start-up). */
export interface UpgradedApp {
  t: TestApp;
  old: PreviousRelease;
  /** Logs the old user in; their access token. */
  login(): Promise<string>;
  close(): Promise<void>;
}

/**
 * A fresh database built by `migrations` and seeded by seedPreviousRelease (then by `fill`, if
 * given), then the app started on it.
 */
export async function startUpgradedApp(
  migrations: (new () => MigrationInterface)[],
  title: string,
  fill?: PreviousSchemaFill,
): Promise<UpgradedApp> {
  let old: PreviousRelease | undefined;
  const t = await startAppOnPreviousSchema(
    migrations,
    async (db, p, config) => {
      old = await seedPreviousRelease(db, p, title);
      await fill?.(db, p, config);
    },
    { ...baseTestEnv(), RATE_LIMIT__AUTH_PER_MINUTE: '1000' },
  );
  const seeded = old!;
  return {
    t,
    old: seeded,
    login: async () =>
      (
        await request(t.url)
          .post('/api/auth/login')
          .send({ email: seeded.email, password: seeded.password })
          .expect(200)
      ).body.access_token as string,
    close: () => t.close(),
  };
}

/**
 * Runs `migration` down, then up again, on the app's database, checking after each step. Later
 * migrations whose tables depend on it (`dependents`, in migration order) go down before it and
 * up after it.
 */
export async function revertAndReapply(
  t: TestApp,
  migration: MigrationInterface,
  checks: {
    afterDown(runner: QueryRunner): Promise<void>;
    afterUp(runner: QueryRunner): Promise<void>;
  },
  dependents: MigrationInterface[] = [],
): Promise<void> {
  const runner = t.app.get(DataSource).createQueryRunner();
  try {
    for (const later of [...dependents].reverse()) await later.down(runner);
    await migration.down(runner);
    await checks.afterDown(runner);
    await migration.up(runner);
    for (const later of dependents) await later.up(runner);
    await checks.afterUp(runner);
  } finally {
    await runner.release();
  }
}
