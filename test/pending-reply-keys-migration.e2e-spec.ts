import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { describeE2e, startAppOnPreviousSchema, type TestApp } from '@app/testing';
import { ApiKeyHasher } from '../src/api-keys/api-key-hasher';
import { PendingReplyKeys } from '../src/chat/generations/pending-reply-keys';
import { MIGRATIONS } from '../src/database/migrations';
import { PendingReplyKeys1766600000000 } from '../src/database/migrations/1766600000000-pending-reply-keys';

/** Every migration before pending_reply_keys: the schema it was written against. */
const BEFORE = MIGRATIONS.slice(0, MIGRATIONS.indexOf(PendingReplyKeys1766600000000));

/** The pending_reply_keys table on a database that the previous schema built, with a live key. */
describeE2e('pending_reply_keys migration', () => {
  let t: TestApp;
  const userId = randomUUID();
  const keyId = randomUUID();
  let oldKey: string;

  beforeAll(async () => {
    t = await startAppOnPreviousSchema(BEFORE, async (db, p, config) => {
      await db.query(
        `INSERT INTO users (id, email, password_hash) VALUES (${p(1)}, ${p(2)}, 'x')`,
        [userId, `${userId}@example.com`],
      );
      const generated = new ApiKeyHasher(config).generate();
      oldKey = generated.key;
      await db.query(
        'INSERT INTO api_keys (id, user_id, name, prefix, key_hash, scopes) ' +
          `VALUES (${p(1)}, ${p(2)}, 'before', ${p(3)}, ${p(4)}, 'chat')`,
        [keyId, userId, generated.prefix, generated.hash],
      );
    });
  });
  afterAll(() => t?.close());

  it('creates the table at start-up; a turn made with a key made before charges it and leaves no row', async () => {
    await request(t.url)
      .post('/api/chat')
      .set('Authorization', `Bearer ${oldKey}`)
      .send({ message: 'after the upgrade' })
      .expect(200);
    const db = t.app.get(DataSource);
    expect(await db.query('SELECT message_id FROM pending_reply_keys')).toEqual([]);
  });

  it('deletes the rows of a revoked key, and reverts cleanly', async () => {
    const db = t.app.get(DataSource);
    const messageId = randomUUID();
    await t.app.get(PendingReplyKeys).remember(messageId, keyId);
    expect(await db.query('SELECT message_id FROM pending_reply_keys')).toEqual([
      { message_id: messageId },
    ]);
    await request(t.url).get('/api/keys').set('Authorization', `Bearer ${oldKey}`).expect(403); // keys cannot manage keys; the owner revokes below, as the database would
    await db.query(`DELETE FROM api_keys WHERE id = ${paramOf(db)}`, [keyId]);
    expect(await db.query('SELECT message_id FROM pending_reply_keys')).toEqual([]);

    const runner = db.createQueryRunner();
    try {
      await new PendingReplyKeys1766600000000().down(runner);
      expect(await runner.hasTable('pending_reply_keys')).toBe(false);
      await new PendingReplyKeys1766600000000().up(runner);
      expect(await runner.hasTable('pending_reply_keys')).toBe(true);
    } finally {
      await runner.release();
    }
  });
});

function paramOf(db: DataSource): string {
  return db.options.type === 'postgres' ? '$1' : '?';
}
