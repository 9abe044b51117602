import request from 'supertest';
import { describeE2e } from '@app/testing';
import { MIGRATIONS } from '../src/database/migrations';
import { Files1766200000000 } from '../src/database/migrations/1766200000000-files';
import { PNG_1X1 } from './factories/file.factory';
import {
  revertAndReapply,
  startUpgradedApp,
  type UpgradedApp,
} from './factories/previous-release.factory';

/** The files migration on a database that every earlier migration built and filled. */
describeE2e('files migration', () => {
  let upgraded: UpgradedApp;

  beforeAll(async () => {
    upgraded = await startUpgradedApp(
      MIGRATIONS.filter((migration) => migration !== Files1766200000000),
      'Before files',
    );
  });
  afterAll(async () => {
    await upgraded?.close();
  });

  it('adds files at start-up: old messages read with no attachments, new ones attach files', async () => {
    const { t, old } = upgraded;
    const auth = { Authorization: `Bearer ${await upgraded.login()}` };
    const session = () => request(t.url).get(`/api/history/${old.sessionId}`).set(auth).expect(200);
    expect((await session()).body.messages).toEqual([
      expect.objectContaining({ id: old.messageId, content: old.content, attachments: [] }),
    ]);

    const file = await request(t.url)
      .post('/api/files')
      .set(auth)
      .attach('file', PNG_1X1, 'after.png')
      .expect(201);
    await request(t.url)
      .post('/api/chat')
      .set(auth)
      .send({ message: 'with a file', session_id: old.sessionId, attachments: [file.body.id] })
      .expect(200);
    expect((await session()).body.messages[1].attachments).toEqual([
      { id: file.body.id, name: 'after.png', media_type: 'image/png' },
    ]);
  });

  it('reverts cleanly: files, file_uses and the attachments column go, the rest stays', async () => {
    await revertAndReapply(upgraded.t, new Files1766200000000(), {
      afterDown: async (runner) => {
        expect(await runner.hasTable('files')).toBe(false);
        expect(await runner.hasTable('file_uses')).toBe(false);
        expect(await runner.hasColumn('chat_messages', 'attachments')).toBe(false);
        expect(await runner.hasTable('chat_messages')).toBe(true);
      },
      afterUp: async (runner) => {
        expect(await runner.hasTable('files')).toBe(true);
        expect(await runner.hasColumn('chat_messages', 'attachments')).toBe(true);
      },
    });
  });
});
