import request from 'supertest';
import { DataSource } from 'typeorm';
import {
  createTestDatabase,
  describeE2e,
  startTestApp,
  type TestApp,
  type TestDatabase,
} from '@app/testing';
import { Files1766200000000 } from '../src/database/migrations/1766200000000-files';
import { MIGRATIONS } from '../src/database/migrations';
import { PNG_1X1 } from './factories/file.factory';
import { type PreviousRelease, seedPreviousRelease } from './factories/previous-release.factory';

/** The files migration on a database that every earlier migration built and filled. */
describeE2e('files migration', () => {
  let database: TestDatabase;
  let t: TestApp;
  let old: PreviousRelease;

  beforeAll(async () => {
    database = await createTestDatabase();
    old = await seedPreviousRelease(
      database.url,
      MIGRATIONS.filter((migration) => migration !== Files1766200000000),
      'Before files',
    );
    t = await startTestApp({ DATABASE_URL: database.url, RATE_LIMIT__AUTH_PER_MINUTE: '1000' });
  });
  afterAll(async () => {
    await t?.close();
    await database?.drop();
  });

  it('adds files at start-up: old messages read with no attachments, new ones attach files', async () => {
    const login = await request(t.url)
      .post('/api/auth/login')
      .send({ email: old.email, password: old.password })
      .expect(200);
    const auth = { Authorization: `Bearer ${login.body.access_token}` };
    const before = await request(t.url).get(`/api/history/${old.sessionId}`).set(auth).expect(200);
    expect(before.body.messages).toEqual([
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
    const after = await request(t.url).get(`/api/history/${old.sessionId}`).set(auth).expect(200);
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
