import { randomBytes } from 'node:crypto';
import { getConnectionToken } from '@nestjs/mongoose';
import type { Connection } from 'mongoose';
import request from 'supertest';
import {
  describeWithServices,
  serviceUrl,
  startTestApp,
  TestApp,
  testDatabaseKind,
} from '@app/testing';
import { LoggedInUser, registerAndLogin } from '@app/testing/clients';
import { HistoryStore } from '../src/history/history-store.interface';
import { MongoHistoryStore } from '../src/history/persistence/mongo-history.store';
import { filesOnDisk, PNG_1X1, uploadedFileId } from './factories/file.factory';

/** The whole app with HISTORY_STORE=mongo: users in SQL, history in MongoDB / FerretDB. */
describeWithServices(
  testDatabaseKind() === 'postgres' ? ['mongo', 'postgres'] : ['mongo'],
  `history API on the Mongo store [${testDatabaseKind()}]`,
  () => {
    let t: TestApp;
    let store: HistoryStore;
    let alice: LoggedInUser;
    let bob: LoggedInUser;

    beforeAll(async () => {
      const uri = new URL(serviceUrl('mongo')!);
      uri.pathname = `/history_e2e_${randomBytes(6).toString('hex')}`;
      t = await startTestApp({ HISTORY_STORE: 'mongo', MONGO_URI: uri.toString() });
      store = t.app.get(HistoryStore);
      [alice, bob] = await Promise.all([registerAndLogin(t.url), registerAndLogin(t.url)]);
    });
    afterAll(async () => {
      if (!t) return;
      await t.app.get<Connection>(getConnectionToken()).dropDatabase();
      await t.close();
    });

    const auth = (user: LoggedInUser) => ({ Authorization: `Bearer ${user.token}` });

    it('uses the Mongo store and reports Mongo in readiness', async () => {
      expect(store).toBeInstanceOf(MongoHistoryStore);
      const res = await request(t.url).get('/health/ready').expect(200);
      expect(res.body.info).toMatchObject({ database: { status: 'up' }, mongo: { status: 'up' } });
    });

    it('lists, reads, searches, renames, exports and deletes through HTTP', async () => {
      const older = await store.createSession(alice.id, 'Older');
      await store.appendMessage(older.id, {
        role: 'user',
        content: 'about 100% cotton',
        status: 'complete',
      });
      const newer = await store.createSession(alice.id, 'Newer');
      await store.appendMessage(newer.id, {
        role: 'user',
        content: 'Hello Mongo',
        status: 'complete',
      });
      const reply = await store.appendMessage(newer.id, {
        role: 'assistant',
        content: '',
        status: 'pending',
        model: 'local/echo',
      });
      await store.updateMessage(newer.id, reply.id, {
        content: 'Hello human',
        status: 'complete',
        promptTokens: 2,
        completionTokens: 2,
      });

      const list = await request(t.url).get('/api/history?per_page=1').set(auth(alice)).expect(200);
      expect(list.body).toEqual({
        items: [
          {
            session_id: newer.id,
            title: 'Newer',
            last_message: 'Hello human',
            message_count: 2,
            updated_at: expect.stringMatching(/Z$/),
          },
        ],
        page: 1,
        per_page: 1,
        total: 2,
      });

      const search = await request(t.url).get('/api/history').query({ q: '100%' }).set(auth(alice));
      expect(search.body.items.map((s: { session_id: string }) => s.session_id)).toEqual([
        older.id,
      ]);

      const detail = await request(t.url)
        .get(`/api/history/${newer.id}`)
        .set(auth(alice))
        .expect(200);
      expect(detail.body.messages).toEqual([
        expect.objectContaining({ role: 'user', content: 'Hello Mongo', usage: null }),
        expect.objectContaining({
          role: 'assistant',
          content: 'Hello human',
          model: 'local/echo',
          usage: { prompt_tokens: 2, completion_tokens: 2, tokens: 4 },
        }),
      ]);

      const renamed = await request(t.url)
        .patch(`/api/history/${older.id}`)
        .set(auth(alice))
        .send({ title: ' Cotton ' })
        .expect(200);
      expect(renamed.body).toMatchObject({ session_id: older.id, title: 'Cotton' });

      const markdown = await request(t.url)
        .get(`/api/history/${newer.id}/export?format=markdown`)
        .set(auth(alice))
        .expect(200);
      expect(markdown.text).toContain('# Newer\n');
      expect(markdown.text).toContain('Hello human');

      await request(t.url).delete(`/api/history/${older.id}`).set(auth(alice)).expect(204);
      const after = await request(t.url).get('/api/history').set(auth(alice)).expect(200);
      expect(after.body.total).toBe(1);
    });

    it("answers another user's session with 404 and leaves it untouched", async () => {
      const session = await store.createSession(alice.id, 'Private');
      for (const res of [
        await request(t.url).get(`/api/history/${session.id}`).set(auth(bob)),
        await request(t.url)
          .patch(`/api/history/${session.id}`)
          .set(auth(bob))
          .send({ title: 'x' }),
        await request(t.url).delete(`/api/history/${session.id}`).set(auth(bob)),
        await request(t.url).get(`/api/history/${session.id}/export`).set(auth(bob)),
      ]) {
        expect(res.status).toBe(404);
        expect(res.body).toEqual({ detail: 'Session not found' });
      }
      expect((await store.getSession(alice.id, session.id))?.title).toBe('Private');
    });

    it('keeps chat attachments on Mongo messages; session and account deletion remove the files', async () => {
      const dave = await registerAndLogin(t.url);
      const kept = await uploadedFileId(t, dave.token, 'kept.png', PNG_1X1);
      const dropped = await uploadedFileId(t, dave.token, 'dropped.md', Buffer.from('# notes'));
      const chat = async (attachments: string[]) =>
        (
          await request(t.url)
            .post('/api/chat')
            .set(auth(dave))
            .send({ message: 'with files', attachments })
            .expect(200)
        ).body.session_id as string;
      const first = await chat([kept, dropped]);
      await chat([kept]);

      const read = await request(t.url).get(`/api/history/${first}`).set(auth(dave)).expect(200);
      expect(read.body.messages[0].attachments).toEqual([
        { id: kept, name: 'kept.png', media_type: 'image/png' },
        { id: dropped, name: 'dropped.md', media_type: 'text/markdown' },
      ]);
      await request(t.url).delete(`/api/history/${first}`).set(auth(dave)).expect(204);
      await request(t.url).get(`/api/files/${dropped}`).set(auth(dave)).expect(404);
      await request(t.url).get(`/api/files/${kept}`).set(auth(dave)).expect(200);

      await request(t.url).delete('/api/users/me').set(auth(dave)).expect(204);
      expect(filesOnDisk(t.config.files.dir).filter((path) => path.startsWith(dave.id))).toEqual(
        [],
      );
    });

    it('erases the Mongo history when the account is deleted', async () => {
      const carol = await registerAndLogin(t.url);
      const session = await store.createSession(carol.id, 'Soon gone');
      await store.appendMessage(session.id, { role: 'user', content: 'bye', status: 'complete' });
      await request(t.url).delete('/api/users/me').set(auth(carol)).expect(204);
      expect(await store.getSession(carol.id, session.id)).toBeNull();
      expect((await store.listSessions(carol.id, { page: 1, perPage: 10 })).total).toBe(0);
      expect((await store.listMessages(session.id, { page: 1, perPage: 10 })).total).toBe(0);
    });
  },
);
