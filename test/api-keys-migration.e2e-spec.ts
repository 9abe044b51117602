import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { describeE2e, startAppOnPreviousSchema, type TestApp } from '@app/testing';
import { InitialSchema1764086400000 } from '../src/database/migrations/1764086400000-initial-schema';
import { ApiKeys1764950400000 } from '../src/database/migrations/1764950400000-api-keys';

const PASSWORD = 'correct horse battery staple';

/** The api_keys migration on a database that the previous schema built and filled. */
describeE2e('api_keys migration', () => {
  let t: TestApp;
  const email = `old-${randomUUID().slice(0, 8)}@example.com`;
  const userId = randomUUID();
  const sessionId = randomUUID();

  beforeAll(async () => {
    // The database as the previous release left it: initial schema only, one user with a chat.
    t = await startAppOnPreviousSchema(
      [InitialSchema1764086400000],
      async ({ db, p, passwordHash }) => {
        await db.query(
          `INSERT INTO users (id, email, password_hash) VALUES (${p(1)}, ${p(2)}, ${p(3)})`,
          [userId, email, await passwordHash(PASSWORD)],
        );
        await db.query(
          `INSERT INTO chat_sessions (id, user_id, title, message_count, last_message) VALUES (${p(1)}, ${p(2)}, ${p(3)}, 1, ${p(4)})`,
          [sessionId, userId, 'Before keys', 'hello from the past'],
        );
        await db.query(
          `INSERT INTO chat_messages (id, session_id, seq, role, content) VALUES (${p(1)}, ${p(2)}, 1, 'user', ${p(3)})`,
          [randomUUID(), sessionId, 'hello from the past'],
        );
      },
      { RATE_LIMIT__AUTH_PER_MINUTE: '1000' },
    );
  });
  afterAll(() => t?.close());

  it('adds api_keys at start-up, keeping the existing users and history usable through a key', async () => {
    const login = await request(t.url)
      .post('/api/auth/login')
      .send({ email, password: PASSWORD })
      .expect(200);
    const created = await request(t.url)
      .post('/api/keys')
      .set('Authorization', `Bearer ${login.body.access_token}`)
      .send({ name: 'after upgrade', scopes: ['history:read'] })
      .expect(201);
    const history = await request(t.url)
      .get('/api/history')
      .set('Authorization', `Bearer ${created.body.key}`)
      .expect(200);
    expect(history.body.items).toEqual([
      expect.objectContaining({ session_id: sessionId, title: 'Before keys', message_count: 1 }),
    ]);
  });

  it('reverts cleanly: api_keys goes, the rest stays', async () => {
    const db = t.app.get(DataSource);
    const runner = db.createQueryRunner();
    try {
      await new ApiKeys1764950400000().down(runner);
      expect(await runner.hasTable('api_keys')).toBe(false);
      expect(await runner.hasTable('users')).toBe(true);
      await new ApiKeys1764950400000().up(runner);
      expect(await runner.hasTable('api_keys')).toBe(true);
    } finally {
      await runner.release();
    }
  });
});
