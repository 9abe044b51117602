import request from 'supertest';
import { DataSource } from 'typeorm';
import {
  createTestDatabase,
  describeE2e,
  startTestApp,
  type TestApp,
  type TestDatabase,
} from '@app/testing';
import { InitialSchema1764086400000 } from '../src/database/migrations/1764086400000-initial-schema';
import { ApiKeys1764950400000 } from '../src/database/migrations/1764950400000-api-keys';
import { type PreviousRelease, seedPreviousRelease } from './factories/previous-release.factory';

/** The api_keys migration on a database that the previous schema built and filled. */
describeE2e('api_keys migration', () => {
  let database: TestDatabase;
  let t: TestApp;
  let old: PreviousRelease;

  beforeAll(async () => {
    database = await createTestDatabase();
    old = await seedPreviousRelease(database.url, [InitialSchema1764086400000], 'Before keys');
    t = await startTestApp({ DATABASE_URL: database.url, RATE_LIMIT__AUTH_PER_MINUTE: '1000' });
  });
  afterAll(async () => {
    await t?.close();
    await database?.drop();
  });

  it('adds api_keys at start-up, keeping the existing users and history usable through a key', async () => {
    const login = await request(t.url)
      .post('/api/auth/login')
      .send({ email: old.email, password: old.password })
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
      expect.objectContaining({
        session_id: old.sessionId,
        title: 'Before keys',
        message_count: 1,
      }),
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
