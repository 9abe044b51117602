import request from 'supertest';
import { describeE2e } from '@app/testing';
import { InitialSchema1764086400000 } from '../src/database/migrations/1764086400000-initial-schema';
import { ApiKeys1764950400000 } from '../src/database/migrations/1764950400000-api-keys';
import { PendingReplyKeys1766600000000 } from '../src/database/migrations/1766600000000-pending-reply-keys';
import {
  revertAndReapply,
  startUpgradedApp,
  type UpgradedApp,
} from './factories/previous-release.factory';

/** The api_keys migration on a database that the previous schema built and filled. */
describeE2e('api_keys migration', () => {
  let upgraded: UpgradedApp;

  beforeAll(async () => {
    upgraded = await startUpgradedApp([InitialSchema1764086400000], 'Before keys');
  });
  afterAll(async () => {
    await upgraded?.close();
  });

  it('adds api_keys at start-up, keeping the existing users and history usable through a key', async () => {
    const { t, old } = upgraded;
    const created = await request(t.url)
      .post('/api/keys')
      .set('Authorization', `Bearer ${await upgraded.login()}`)
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
    await revertAndReapply(
      upgraded.t,
      new ApiKeys1764950400000(),
      {
        afterDown: async (runner) => {
          expect(await runner.hasTable('api_keys')).toBe(false);
          expect(await runner.hasTable('users')).toBe(true);
        },
        afterUp: async (runner) => {
          expect(await runner.hasTable('api_keys')).toBe(true);
          expect(await runner.hasTable('pending_reply_keys')).toBe(true);
        },
      },
      // A later table refers to api_keys: it goes down first and comes back after.
      [new PendingReplyKeys1766600000000()],
    );
  });
});
