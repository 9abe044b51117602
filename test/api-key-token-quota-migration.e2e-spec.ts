import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { describeE2e, startAppOnPreviousSchema, type TestApp } from '@app/testing';
import { ApiKeyHasher } from '../src/api-keys/api-key-hasher';
import { MIGRATIONS } from '../src/database/migrations';
import { ApiKeyTokenQuota1766300000000 } from '../src/database/migrations/1766300000000-api-key-token-quota';

/** Every migration before the per-key token quota: the schema it was written against. */
const BEFORE = MIGRATIONS.slice(0, MIGRATIONS.indexOf(ApiKeyTokenQuota1766300000000));

/** The tokens_per_day column on a database that the previous schema built, with a live key. */
describeE2e('api_keys.tokens_per_day migration', () => {
  let t: TestApp;
  const userId = randomUUID();
  let oldKey: string;

  beforeAll(async () => {
    // The previous schema with one user and one key made then (its HMAC under the app's secret).
    t = await startAppOnPreviousSchema(BEFORE, async (db, p, config) => {
      await db.query(
        `INSERT INTO users (id, email, password_hash) VALUES (${p(1)}, ${p(2)}, 'x')`,
        [userId, `${userId}@example.com`],
      );
      const generated = new ApiKeyHasher(config).generate();
      oldKey = generated.key;
      await db.query(
        'INSERT INTO api_keys (id, user_id, name, prefix, key_hash, scopes, rate_limit_per_minute) ' +
          `VALUES (${p(1)}, ${p(2)}, 'before the quota', ${p(3)}, ${p(4)}, 'chat models', 5)`,
        [randomUUID(), userId, generated.prefix, generated.hash],
      );
    });
  });
  afterAll(() => t?.close());

  it('adds tokens_per_day (null) at start-up; the key made before keeps working, chat included', async () => {
    const models = await request(t.url)
      .get('/api/models')
      .set('Authorization', `Bearer ${oldKey}`)
      .expect(200);
    expect(models.body.items.length).toBeGreaterThan(0);
    await request(t.url)
      .post('/api/chat')
      .set('Authorization', `Bearer ${oldKey}`)
      .send({ message: 'after the upgrade' })
      .expect(200);
    const [row] = await t.app
      .get(DataSource)
      .query('SELECT tokens_per_day, rate_limit_per_minute FROM api_keys');
    expect(row).toEqual({ tokens_per_day: null, rate_limit_per_minute: 5 });
  });

  it('reverts cleanly: the column goes, the key stays', async () => {
    const runner = t.app.get(DataSource).createQueryRunner();
    try {
      await new ApiKeyTokenQuota1766300000000().down(runner);
      expect(await runner.hasColumn('api_keys', 'tokens_per_day')).toBe(false);
      expect(await runner.query('SELECT name FROM api_keys')).toEqual([
        { name: 'before the quota' },
      ]);
      await new ApiKeyTokenQuota1766300000000().up(runner);
      expect(await runner.hasColumn('api_keys', 'tokens_per_day')).toBe(true);
    } finally {
      await runner.release();
    }
  });
});
