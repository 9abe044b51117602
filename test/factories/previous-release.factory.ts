import { createHash, randomUUID } from 'node:crypto';
import { hash } from 'bcrypt';
import { DataSource, type MigrationInterface } from 'typeorm';
import { AppConfig, buildDataSourceOptions } from '@app/config';
import { baseTestEnv } from '@app/testing';

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
