import { createHash, randomUUID } from 'node:crypto';
import { hash } from 'bcrypt';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { AppConfig, buildDataSourceOptions } from '@app/config';
import {
  baseTestEnv,
  createTestDatabase,
  describeE2e,
  startTestApp,
  type TestApp,
  type TestDatabase,
} from '@app/testing';
import { Files1766200000000 } from '../src/database/migrations/1766200000000-files';
import { MIGRATIONS } from '../src/database/migrations';
import { PNG_1X1 } from './factories/file.factory';

const PASSWORD = 'correct horse battery staple';

/** The files migration on a database that every earlier migration built and filled. */
describeE2e('files migration', () => {
  let database: TestDatabase;
  let t: TestApp;
  const email = `old-${randomUUID().slice(0, 8)}@example.com`;
  const userId = randomUUID();
  const sessionId = randomUUID();
  const messageId = randomUUID();

  /** The database as the previous release left it, with one user and one message. */
  async function fillPreviousSchema(url: string): Promise<void> {
    const config = AppConfig.fromEnv({ ...baseTestEnv(), DATABASE_URL: url });
    const db = new DataSource({
      ...buildDataSourceOptions(config.database),
      migrations: MIGRATIONS.filter((migration) => migration !== Files1766200000000),
      migrationsRun: false,
    });
    await db.initialize();
    try {
      await db.runMigrations();
      const p = db.options.type === 'postgres' ? (n: number) => `$${n}` : () => '?';
      await db.query(
        `INSERT INTO users (id, email, password_hash) VALUES (${p(1)}, ${p(2)}, ${p(3)})`,
        [
          userId,
          email,
          await hash(createHash('sha256').update(PASSWORD, 'utf8').digest('base64'), 4),
        ],
      );
      await db.query(
        `INSERT INTO chat_sessions (id, user_id, title, message_count, last_message, active_leaf_id) VALUES (${p(1)}, ${p(2)}, ${p(3)}, 1, ${p(4)}, ${p(5)})`,
        [sessionId, userId, 'Before files', 'hello from the past', messageId],
      );
      await db.query(
        `INSERT INTO chat_messages (id, session_id, seq, role, content) VALUES (${p(1)}, ${p(2)}, 1, 'user', ${p(3)})`,
        [messageId, sessionId, 'hello from the past'],
      );
    } finally {
      await db.destroy();
    }
  }

  beforeAll(async () => {
    database = await createTestDatabase();
    await fillPreviousSchema(database.url);
    t = await startTestApp({ DATABASE_URL: database.url, RATE_LIMIT__AUTH_PER_MINUTE: '1000' });
  });
  afterAll(async () => {
    await t?.close();
    await database?.drop();
  });

  it('adds files at start-up: old messages read with no attachments, new ones attach files', async () => {
    const login = await request(t.url)
      .post('/api/auth/login')
      .send({ email, password: PASSWORD })
      .expect(200);
    const auth = { Authorization: `Bearer ${login.body.access_token}` };
    const before = await request(t.url).get(`/api/history/${sessionId}`).set(auth).expect(200);
    expect(before.body.messages).toEqual([
      expect.objectContaining({ id: messageId, content: 'hello from the past', attachments: [] }),
    ]);

    const file = await request(t.url)
      .post('/api/files')
      .set(auth)
      .attach('file', PNG_1X1, 'after.png')
      .expect(201);
    await request(t.url)
      .post('/api/chat')
      .set(auth)
      .send({ message: 'with a file', session_id: sessionId, attachments: [file.body.id] })
      .expect(200);
    const after = await request(t.url).get(`/api/history/${sessionId}`).set(auth).expect(200);
    expect(after.body.messages[1].attachments).toEqual([
      { id: file.body.id, name: 'after.png', media_type: 'image/png' },
    ]);
  });

  it('reverts cleanly: files, file_uses and the attachments column go, the rest stays', async () => {
    const db = t.app.get(DataSource);
    const runner = db.createQueryRunner();
    try {
      await new Files1766200000000().down(runner);
      expect(await runner.hasTable('files')).toBe(false);
      expect(await runner.hasTable('file_uses')).toBe(false);
      expect(await runner.hasColumn('chat_messages', 'attachments')).toBe(false);
      expect(await runner.hasTable('chat_messages')).toBe(true);
      await new Files1766200000000().up(runner);
      expect(await runner.hasTable('files')).toBe(true);
      expect(await runner.hasColumn('chat_messages', 'attachments')).toBe(true);
    } finally {
      await runner.release();
    }
  });
});
