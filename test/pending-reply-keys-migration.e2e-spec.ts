import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { DataSource } from 'typeorm';
import {
  describeE2e,
  registerAndLogin,
  startAppOnPreviousSchema,
  type TestApp,
} from '@app/testing';
import { PendingReplyKeys } from '../src/chat/generations/pending-reply-keys';
import { MIGRATIONS } from '../src/database/migrations';
import { PendingReplyKeys1766600000000 } from '../src/database/migrations/1766600000000-pending-reply-keys';

/** Every migration before pending_reply_keys: the schema it was written against. */
const BEFORE = MIGRATIONS.slice(0, MIGRATIONS.indexOf(PendingReplyKeys1766600000000));

/** The pending_reply_keys table, added at start-up to a database the previous schema built. */
describeE2e('pending_reply_keys migration', () => {
  let t: TestApp;
  let token: string;
  let key: { id: string; key: string };

  beforeAll(async () => {
    t = await startAppOnPreviousSchema(BEFORE, async () => undefined);
    token = (await registerAndLogin(t.url)).token;
    key = (
      await request(t.url)
        .post('/api/keys')
        .set('Authorization', `Bearer ${token}`)
        .send({ name: 'after the upgrade', scopes: ['chat'] })
        .expect(201)
    ).body as { id: string; key: string };
  });
  afterAll(() => t?.close());

  const rows = () => t.app.get(DataSource).query('SELECT message_id FROM pending_reply_keys');

  it('creates the table; a turn made with a key charges it at its end and leaves no row', async () => {
    await request(t.url)
      .post('/api/chat')
      .set('Authorization', `Bearer ${key.key}`)
      .send({ message: 'after the upgrade' })
      .expect(200);
    expect(await rows()).toEqual([]);
  });

  it('drops the rows of a revoked key, and reverts cleanly', async () => {
    const messageId = randomUUID();
    await t.app.get(PendingReplyKeys).remember(messageId, key.id);
    expect(await rows()).toEqual([{ message_id: messageId }]);
    await request(t.url)
      .delete(`/api/keys/${key.id}`)
      .set('Authorization', `Bearer ${token}`)
      .expect(204);
    expect(await rows()).toEqual([]);

    const runner = t.app.get(DataSource).createQueryRunner();
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
