import request from 'supertest';
import { describeE2e, startTestApp, TestApp } from '@app/testing';
import { LoggedInUser, registerAndLogin } from '@app/testing/clients';
import { HistoryStore, MessageRecord, SessionRecord } from '../src/history/history-store.interface';

const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const UNKNOWN_ID = '00000000-0000-4000-8000-000000000000';
const NOT_FOUND = { detail: 'Session not found' };
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describeE2e('history API', () => {
  let t: TestApp;
  let store: HistoryStore;
  let alice: LoggedInUser;
  let bob: LoggedInUser;
  /** Alice's 25 sessions, oldest activity first. */
  const aliceSessions: SessionRecord[] = [];
  let bobSession: SessionRecord;

  const as = (user: LoggedInUser) => ({
    get: (path: string) => request(t.url).get(path).set('Authorization', `Bearer ${user.token}`),
    patch: (path: string) =>
      request(t.url).patch(path).set('Authorization', `Bearer ${user.token}`),
    delete: (path: string) =>
      request(t.url).delete(path).set('Authorization', `Bearer ${user.token}`),
  });

  /** A user turn and a finished assistant reply, as the chat service stores them. */
  async function exchange(sessionId: string, question: string, answer: string) {
    await store.appendMessage(sessionId, { role: 'user', content: question, status: 'complete' });
    const reply = await store.appendMessage(sessionId, {
      role: 'assistant',
      content: '',
      status: 'pending',
      model: 'local/echo',
    });
    return store.updateMessage(sessionId, reply.id, {
      content: answer,
      status: 'complete',
      promptTokens: 12,
      completionTokens: 5,
    });
  }

  beforeAll(async () => {
    t = await startTestApp();
    store = t.app.get(HistoryStore);
    [alice, bob] = await Promise.all([registerAndLogin(t.url), registerAndLogin(t.url)]);
    for (let i = 0; i < 25; i++) {
      const session = await store.createSession(alice.id, `Alice chat ${i}`);
      await sleep(2);
      await store.appendMessage(session.id, {
        role: 'user',
        content: `question number ${i}`,
        status: 'complete',
      });
      aliceSessions.push(session);
    }
    bobSession = await store.createSession(bob.id, 'Bob private chat');
    await exchange(bobSession.id, 'Bob secret question', 'Bob secret answer');
  });
  afterAll(() => t?.close());

  describe('authentication', () => {
    it.each([
      ['get', '/api/history'],
      ['get', `/api/history/${UNKNOWN_ID}`],
      ['patch', `/api/history/${UNKNOWN_ID}`],
      ['delete', `/api/history/${UNKNOWN_ID}`],
      ['get', `/api/history/${UNKNOWN_ID}/export`],
    ] as const)('%s %s needs a bearer token', async (method, path) => {
      const res = await request(t.url)[method](path);
      expect(res.status).toBe(401);
      expect(res.body).toEqual({ detail: expect.any(String) });
    });

    it('rejects a forged token', async () => {
      const res = await request(t.url)
        .get('/api/history')
        .set('Authorization', `Bearer ${alice.token.slice(0, -4)}AAAA`);
      expect(res.status).toBe(401);
      expect(res.body).toEqual({ detail: expect.any(String) });
    });
  });

  describe('OpenAPI', () => {
    it('documents every history route with bearer auth, parameters and error responses', async () => {
      const doc = (await request(t.url).get('/docs-json').expect(200)).body;
      const routes: [string, string, string[]][] = [
        ['/api/history', 'get', ['200', '400', '401']],
        ['/api/history/{session_id}', 'get', ['200', '400', '401', '404']],
        ['/api/history/{session_id}', 'patch', ['200', '400', '401', '404']],
        ['/api/history/{session_id}', 'delete', ['204', '401', '404']],
        ['/api/history/{session_id}/export', 'get', ['200', '400', '401', '404']],
      ];
      for (const [path, method, statuses] of routes) {
        const operation = doc.paths[path]?.[method];
        expect(operation).toBeDefined();
        expect(operation.security).toEqual([{ bearer: [] }]);
        expect(Object.keys(operation.responses)).toEqual(expect.arrayContaining(statuses));
      }
      const list = doc.paths['/api/history'].get;
      expect(list.parameters.map((p: { name: string }) => p.name).sort()).toEqual([
        'page',
        'per_page',
        'q',
      ]);
      expect(doc.components.schemas.SessionSummaryDto.properties.updated_at.example).toMatch(/Z$/);
      expect(
        Object.keys(doc.paths['/api/history/{session_id}/export'].get.responses['200'].content),
      ).toEqual(['application/json', 'text/markdown']);
    });
  });

  describe('GET /api/history', () => {
    it('lists the first 20 sessions, newest first, with the total', async () => {
      const res = await as(alice).get('/api/history').expect(200);
      expect(res.body.page).toBe(1);
      expect(res.body.per_page).toBe(20);
      expect(res.body.total).toBe(25);
      expect(res.body.items).toHaveLength(20);
      expect(res.body.items[0]).toEqual({
        session_id: aliceSessions[24].id,
        title: 'Alice chat 24',
        last_message: 'question number 24',
        message_count: 1,
        updated_at: expect.stringMatching(ISO_UTC),
      });
      const titles = res.body.items.map((s: { title: string }) => s.title);
      expect(titles).toEqual(Array.from({ length: 20 }, (_, i) => `Alice chat ${24 - i}`));
    });

    it('pages with page and per_page', async () => {
      const second = await as(alice).get('/api/history?page=2&per_page=10').expect(200);
      expect(second.body).toMatchObject({ page: 2, per_page: 10, total: 25 });
      expect(second.body.items.map((s: { title: string }) => s.title)).toEqual(
        Array.from({ length: 10 }, (_, i) => `Alice chat ${14 - i}`),
      );
      const last = await as(alice).get('/api/history?page=3&per_page=10').expect(200);
      expect(last.body.items).toHaveLength(5);
      const beyond = await as(alice).get('/api/history?page=9&per_page=10').expect(200);
      expect(beyond.body).toEqual({ items: [], page: 9, per_page: 10, total: 25 });
      const max = await as(alice).get('/api/history?per_page=100').expect(200);
      expect(max.body.items).toHaveLength(25);
    });

    it('shows each user only their own sessions', async () => {
      const res = await as(bob).get('/api/history').expect(200);
      expect(res.body.total).toBe(1);
      expect(res.body.items).toEqual([
        expect.objectContaining({
          session_id: bobSession.id,
          title: 'Bob private chat',
          last_message: 'Bob secret answer',
          message_count: 2,
        }),
      ]);
    });

    it.each([
      ['per_page=101', 'per_page', 'per_page must not be greater than 100'],
      ['per_page=0', 'per_page', 'per_page must be at least 1'],
      ['per_page=', 'per_page', 'per_page must be a whole number'],
      ['per_page=ten', 'per_page', 'per_page must be a whole number'],
      ['page=0', 'page', 'page must be at least 1'],
      ['page=-1', 'page', 'page must be a whole number'],
      ['page=1.5', 'page', 'page must be a whole number'],
      ['page=1&page=2', 'page', 'page must be a whole number'],
      ['page=1000001', 'page', 'page must not be greater than 1000000'],
      [`q=${'x'.repeat(201)}`, 'q', 'q must be at most 200 characters'],
      ['q=a&q=b', 'q', 'q must be a string'],
      ['sort=asc', 'sort', 'sort is not an allowed field'],
    ])('answers ?%s with 400 naming the field', async (query, field, message) => {
      const res = await as(alice).get(`/api/history?${query}`);
      expect(res.status).toBe(400);
      expect(res.body).toEqual({
        detail: expect.stringContaining(message),
        errors: expect.arrayContaining([{ field, message }]),
      });
    });
  });

  describe('search with q', () => {
    let invoice: SessionRecord;
    let percent: SessionRecord;

    beforeAll(async () => {
      invoice = await store.createSession(alice.id, 'Billing');
      await exchange(invoice.id, 'Where is my INVOICE?', 'Your invoice was emailed.');
      percent = await store.createSession(alice.id, 'Discounts');
      await exchange(percent.id, 'Is it 100% off?', 'No, only 50_percent.');
    });

    it('finds sessions by message text, case-insensitively', async () => {
      const res = await as(alice).get('/api/history?q=invoice').expect(200);
      expect(res.body).toEqual({
        items: [expect.objectContaining({ session_id: invoice.id, message_count: 2 })],
        page: 1,
        per_page: 20,
        total: 1,
      });
      const upper = await as(alice).get('/api/history?q=EMAILED').expect(200);
      expect(upper.body.items.map((s: { session_id: string }) => s.session_id)).toEqual([
        invoice.id,
      ]);
    });

    it('matches % and _ literally', async () => {
      const pct = await as(alice).get('/api/history').query({ q: '100%' }).expect(200);
      expect(pct.body.items.map((s: { session_id: string }) => s.session_id)).toEqual([percent.id]);
      const underscore = await as(alice).get('/api/history').query({ q: '50_p' }).expect(200);
      expect(underscore.body.total).toBe(1);
      const wildcard = await as(alice).get('/api/history').query({ q: '1_0' }).expect(200);
      expect(wildcard.body).toMatchObject({ items: [], total: 0 });
    });

    it("never finds another user's messages", async () => {
      const res = await as(alice).get('/api/history?q=secret').expect(200);
      expect(res.body).toEqual({ items: [], page: 1, per_page: 20, total: 0 });
    });

    it('treats an empty q as no filter', async () => {
      const res = await as(alice).get('/api/history?q=').expect(200);
      expect(res.body.total).toBe(27);
    });
  });

  describe('GET /api/history/{session_id}', () => {
    let session: SessionRecord;
    let messages: MessageRecord[];

    beforeAll(async () => {
      session = await store.createSession(alice.id, 'Long chat');
      messages = [];
      for (let i = 1; i <= 5; i++) {
        messages.push(
          await store.appendMessage(session.id, {
            role: 'user',
            content: `turn ${i}`,
            status: 'complete',
          }),
        );
      }
      messages.push(await exchange(session.id, 'last question', 'last answer'));
    });

    it('returns the session with its messages, oldest first', async () => {
      const res = await as(alice).get(`/api/history/${session.id}`).expect(200);
      expect(res.body).toEqual({
        session_id: session.id,
        title: 'Long chat',
        created_at: session.createdAt.toISOString(),
        updated_at: expect.stringMatching(ISO_UTC),
        active_message_id: messages[5].id,
        settings: { system_prompt: null, model: null, temperature: null, max_tokens: null },
        tree: 'path',
        messages: expect.any(Array),
        page: 1,
        per_page: 20,
        total: 7,
      });
      expect(res.body.messages.map((m: { content: string }) => m.content)).toEqual([
        'turn 1',
        'turn 2',
        'turn 3',
        'turn 4',
        'turn 5',
        'last question',
        'last answer',
      ]);
      expect(res.body.messages[0]).toEqual({
        id: messages[0].id,
        parent_id: null,
        sibling_index: 0,
        sibling_count: 1,
        sibling_ids: [messages[0].id],
        role: 'user',
        content: 'turn 1',
        status: 'complete',
        model: null,
        usage: null,
        feedback: null,
        attachments: [],
        created_at: messages[0].createdAt.toISOString(),
      });
      expect(res.body.messages[6]).toEqual({
        id: messages[5].id,
        parent_id: res.body.messages[5].id,
        sibling_index: 0,
        sibling_count: 1,
        sibling_ids: [messages[5].id],
        role: 'assistant',
        content: 'last answer',
        status: 'complete',
        model: 'local/echo',
        usage: { prompt_tokens: 12, completion_tokens: 5, tokens: 17 },
        feedback: null,
        attachments: [],
        created_at: expect.stringMatching(ISO_UTC),
      });
    });

    it('pages messages', async () => {
      const res = await as(alice).get(`/api/history/${session.id}?page=2&per_page=3`).expect(200);
      expect(res.body).toMatchObject({ page: 2, per_page: 3, total: 7 });
      expect(res.body.messages.map((m: { content: string }) => m.content)).toEqual([
        'turn 4',
        'turn 5',
        'last question',
      ]);
    });

    it('accepts the id in upper case', async () => {
      const res = await as(alice).get(`/api/history/${session.id.toUpperCase()}`).expect(200);
      expect(res.body.session_id).toBe(session.id);
    });

    it('answers bad paging with 400', async () => {
      const res = await as(alice).get(`/api/history/${session.id}?per_page=500`);
      expect(res.status).toBe(400);
      expect(res.body).toEqual({
        detail: 'per_page must not be greater than 100',
        errors: [{ field: 'per_page', message: 'per_page must not be greater than 100' }],
      });
    });
  });

  describe('isolation and unknown ids', () => {
    it.each([
      ['an unknown id', UNKNOWN_ID],
      ['a malformed id', 'not-a-session-id'],
      ['an injection attempt', "1' OR '1'='1"],
      ['an almost-uuid', `${UNKNOWN_ID}0`],
    ])('answers %s with 404 on every route', async (_label, id) => {
      const path = `/api/history/${encodeURIComponent(id)}`;
      for (const res of [
        await as(alice).get(path),
        await as(alice).patch(path).send({ title: 'x' }),
        await as(alice).delete(path),
        await as(alice).get(`${path}/export`),
      ]) {
        expect(res.status).toBe(404);
        expect(res.body).toEqual(NOT_FOUND);
      }
    });

    it("answers another user's session with the same 404 and leaves it untouched", async () => {
      const path = `/api/history/${bobSession.id}`;
      const read = await as(alice).get(path);
      const rename = await as(alice).patch(path).send({ title: 'hijacked' });
      const remove = await as(alice).delete(path);
      const exported = await as(alice).get(`${path}/export?format=markdown`);
      for (const res of [read, rename, remove, exported]) {
        expect(res.status).toBe(404);
        expect(res.body).toEqual(NOT_FOUND);
      }
      const own = await as(bob).get(path).expect(200);
      expect(own.body).toMatchObject({ title: 'Bob private chat', total: 2 });
    });
  });

  describe('PATCH /api/history/{session_id}', () => {
    it('renames, trimming the title, and returns the summary', async () => {
      const session = aliceSessions[3];
      const before = await store.getSession(alice.id, session.id);
      const res = await as(alice)
        .patch(`/api/history/${session.id}`)
        .send({ title: '  Renamed chat  ' })
        .expect(200);
      expect(res.body).toEqual({
        session_id: session.id,
        title: 'Renamed chat',
        last_message: 'question number 3',
        message_count: 1,
        updated_at: before!.updatedAt.toISOString(),
      });
      const read = await as(alice).get(`/api/history/${session.id}`).expect(200);
      expect(read.body.title).toBe('Renamed chat');
    });

    it('accepts a title of exactly 200 characters', async () => {
      const title = 'é'.repeat(200);
      const res = await as(alice)
        .patch(`/api/history/${aliceSessions[4].id}`)
        .send({ title })
        .expect(200);
      expect(res.body.title).toBe(title);
    });

    it.each([
      [
        'no field at all',
        {},
        'title',
        'title, active_message_id, preset_id or a setting is required',
      ],
      ['an empty title', { title: '' }, 'title', 'title must be 1 to 200 characters'],
      ['a blank title', { title: '   ' }, 'title', 'title must be 1 to 200 characters'],
      ['a long title', { title: 'x'.repeat(201) }, 'title', 'title must be 1 to 200 characters'],
      ['a number', { title: 42 }, 'title', 'title must be a string'],
      [
        'a line break',
        { title: 'two\nlines' },
        'title',
        'title must not contain control characters',
      ],
      [
        'an unknown field',
        { title: 'ok', pinned: true },
        'pinned',
        'pinned is not an allowed field',
      ],
    ])('rejects %s with 400', async (_label, body, field, message) => {
      const session = aliceSessions[5];
      const res = await as(alice).patch(`/api/history/${session.id}`).send(body);
      expect(res.status).toBe(400);
      expect(res.body).toEqual({
        detail: expect.stringContaining(message),
        errors: expect.arrayContaining([{ field, message }]),
      });
      expect((await store.getSession(alice.id, session.id))?.title).toBe('Alice chat 5');
    });

    it('rejects malformed JSON with 400', async () => {
      const res = await as(alice)
        .patch(`/api/history/${aliceSessions[5].id}`)
        .set('Content-Type', 'application/json')
        .send('{"title": ');
      expect(res.status).toBe(400);
      expect(res.body).toEqual({ detail: expect.any(String) });
    });
  });

  describe('DELETE /api/history/{session_id}', () => {
    it('deletes the session and its messages; a second delete is 404', async () => {
      const session = await store.createSession(alice.id, 'Short-lived');
      await exchange(session.id, 'delete me', 'ok');
      const before = (await as(alice).get('/api/history').expect(200)).body.total;

      const res = await as(alice).delete(`/api/history/${session.id}`).expect(204);
      expect(res.text).toBe('');

      const read = await as(alice).get(`/api/history/${session.id}`).expect(404);
      expect(read.body).toEqual(NOT_FOUND);
      expect((await as(alice).get('/api/history').expect(200)).body.total).toBe(before - 1);
      expect((await store.listMessages(session.id, { page: 1, perPage: 10 })).total).toBe(0);
      const again = await as(alice).delete(`/api/history/${session.id}`).expect(404);
      expect(again.body).toEqual(NOT_FOUND);
    });
  });

  describe('GET /api/history/{session_id}/export', () => {
    let session: SessionRecord;

    beforeAll(async () => {
      session = await store.createSession(alice.id, 'Export me');
      // More than one internal read batch (500), so the export must page through all of them.
      for (let i = 1; i <= 510; i++) {
        await store.appendMessage(session.id, {
          role: i % 2 ? 'user' : 'assistant',
          content: `line ${i}`,
          status: 'complete',
          model: i % 2 ? null : 'local/echo',
        });
      }
      const last = await store.appendMessage(session.id, {
        role: 'assistant',
        content: 'cut sh',
        status: 'pending',
        model: 'local/echo',
      });
      await store.updateMessage(session.id, last.id, { status: 'aborted' });
    });

    it('exports JSON by default, as an attachment with every message', async () => {
      const res = await as(alice).get(`/api/history/${session.id}/export`).expect(200);
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      expect(res.headers['content-disposition']).toBe(
        `attachment; filename="chat-${session.id}.json"`,
      );
      expect(res.body).toMatchObject({
        session_id: session.id,
        title: 'Export me',
        created_at: session.createdAt.toISOString(),
        updated_at: expect.stringMatching(ISO_UTC),
        message_count: 511,
        exported_at: expect.stringMatching(ISO_UTC),
      });
      expect(res.body.messages).toHaveLength(511);
      expect(res.body.messages[0]).toMatchObject({ role: 'user', content: 'line 1', usage: null });
      expect(res.body.messages[509].content).toBe('line 510');
      expect(res.body.messages[510]).toMatchObject({ content: 'cut sh', status: 'aborted' });
      const json = await as(alice).get(`/api/history/${session.id}/export?format=json`).expect(200);
      expect(json.body.messages).toHaveLength(511);
    });

    it('exports a Markdown transcript', async () => {
      const res = await as(alice)
        .get(`/api/history/${session.id}/export?format=markdown`)
        .expect(200);
      expect(res.headers['content-type']).toBe('text/markdown; charset=utf-8');
      expect(res.headers['content-disposition']).toBe(
        `attachment; filename="chat-${session.id}.md"`,
      );
      const text = res.text;
      expect(text.startsWith('# Export me\n')).toBe(true);
      expect(text).toContain(`- Session: \`${session.id}\``);
      expect(text).toContain('- Messages: 511');
      expect(text).toMatch(/### User · \d{4}-\d{2}-\d{2}T[\d:.]+Z\n\nline 1\n/);
      expect(text).toMatch(/### Assistant \(local\/echo\) · [^\n]+\n\nline 2\n/);
      expect(text.indexOf('\nline 9\n')).toBeLessThan(text.indexOf('\nline 10\n'));
      expect(text).toContain('line 510');
      expect(text.trimEnd().endsWith('_The reply was stopped; any text above is partial._')).toBe(
        true,
      );
    });

    it.each(['xml', 'JSON', ''])('rejects format=%s with 400', async (format) => {
      const res = await as(alice).get(`/api/history/${session.id}/export?format=${format}`);
      expect(res.status).toBe(400);
      expect(res.body).toEqual({
        detail: 'format must be one of: json, markdown',
        errors: [{ field: 'format', message: 'format must be one of: json, markdown' }],
      });
    });
  });
});
