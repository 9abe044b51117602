import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import request from 'supertest';
import { describeE2e, LoggedInUser, registerAndLogin, startTestApp, TestApp } from '@app/testing';

/** A ChatGPT data export's conversations.json: regenerated and edited branches, tool calls. */
const CHATGPT = JSON.parse(
  readFileSync(join(__dirname, 'fixtures', 'chatgpt-conversations.json'), 'utf8'),
) as { mapping: Record<string, unknown> }[];

interface Message {
  id: string;
  parent_id: string | null;
  sibling_index: number;
  sibling_count: number;
  role: string;
  content: string;
  status: string;
  model: string | null;
  feedback: unknown;
  created_at: string;
}

/** POST /api/history/import: this service's export and ChatGPT's conversations.json. */
describeE2e('history: import', () => {
  let t: TestApp;
  let alice: LoggedInUser;
  let bob: LoggedInUser;

  const as = (user: LoggedInUser) => ({
    import: (body: unknown) =>
      request(t.url)
        .post('/api/history/import')
        .set('Authorization', `Bearer ${user.token}`)
        .send(body as object),
    get: (path: string) => request(t.url).get(path).set('Authorization', `Bearer ${user.token}`),
  });
  const read = async (sessionId: string, query = '') =>
    (await as(alice).get(`/api/history/${sessionId}${query}`).expect(200)).body as {
      title: string;
      settings: Record<string, unknown>;
      created_at: string;
      updated_at: string;
      active_message_id: string;
      total: number;
      messages: Message[];
    };
  /** The tree as text: each message "role: content <- parent's content". */
  const shape = (messages: Message[]) => {
    const byId = new Map(messages.map((m) => [m.id, m]));
    return messages.map(
      (m) => `${m.role}: ${m.content} <- ${m.parent_id ? byId.get(m.parent_id)!.content : 'root'}`,
    );
  };

  beforeAll(async () => {
    t = await startTestApp();
    [alice, bob] = await Promise.all([registerAndLogin(t.url), registerAndLogin(t.url)]);
  });
  afterAll(() => t?.close());

  it('imports a ChatGPT export with its branches: the same tree comes back through the API', async () => {
    const res = await as(alice).import({ data: CHATGPT }).expect(200);
    expect(res.body).toEqual({
      imported: [
        { index: 0, session_id: expect.any(String), title: 'Lisbon trip', message_count: 9 },
        { index: 1, session_id: expect.any(String), title: 'Tram photo', message_count: 2 },
      ],
      errors: [],
    });
    const lisbon = res.body.imported[0].session_id;

    const full = await read(lisbon, '?tree=full');
    expect(full.total).toBe(9);
    // System, code and tool messages are left out; the reply after them hangs on the question.
    expect(shape(full.messages)).toEqual([
      'user: Plan two days in Lisbon for me. <- root',
      'assistant: Day 1: Alfama and the castle. Day 2: Belém. <- Plan two days in Lisbon for me.',
      'assistant: Day 1: Baixa, Chiado and a fado dinner. Day 2: Sintra. <- Plan two days in Lisbon for me.',
      'user: Make it cheaper. <- Day 1: Baixa, Chiado and a fado dinner. Day 2: Sintra.',
      'assistant: Skip the fado dinner and take the train to Sintra. <- Make it cheaper.',
      'user: Make it vegetarian. <- Day 1: Baixa, Chiado and a fado dinner. Day 2: Sintra.',
      'assistant: Try Ao 26 Vegan Food Project on day 1. <- Make it vegetarian.',
      'user: Is it open on Mondays? <- Try Ao 26 Vegan Food Project on day 1.',
      'assistant: No, it is closed on Mondays; it opens Tuesday to Sunday. <- Is it open on Mondays?',
    ]);
    expect(full.messages[1]).toMatchObject({
      model: 'gpt-4o',
      status: 'complete',
      created_at: '2024-11-25T16:00:20.000Z',
    });

    // current_node is the active branch: the regenerated reply, then the edited question.
    const path = await read(lisbon);
    expect(path.messages.map((m) => m.content)).toEqual([
      'Plan two days in Lisbon for me.',
      'Day 1: Baixa, Chiado and a fado dinner. Day 2: Sintra.',
      'Make it vegetarian.',
      'Try Ao 26 Vegan Food Project on day 1.',
      'Is it open on Mondays?',
      'No, it is closed on Mondays; it opens Tuesday to Sunday.',
    ]);
    expect(path.messages[1]).toMatchObject({ sibling_index: 1, sibling_count: 2 });
    expect(path.messages[2]).toMatchObject({ sibling_index: 1, sibling_count: 2 });
    expect(path).toMatchObject({
      title: 'Lisbon trip',
      created_at: '2024-11-25T16:00:00.000Z',
      updated_at: '2024-11-25T16:05:10.000Z',
    });

    // Only text parts of a multimodal message are kept.
    const tram = await read(res.body.imported[1].session_id);
    expect(tram.messages[0].content).toBe('What is in this picture?');
    expect(tram.messages[1].model).toBe('gpt-4o-mini');

    // The imported sessions are the caller's: listed and searchable for her, 404 for others.
    const found = (await as(alice).get('/api/history?q=vegetarian').expect(200)).body;
    expect(found.items.map((s: { session_id: string }) => s.session_id)).toEqual([lisbon]);
    expect((await as(bob).get(`/api/history/${lisbon}`)).status).toBe(404);
  });

  it('imports its own JSON export again as an equal tree (a round trip)', async () => {
    const chat = (body: object) =>
      request(t.url)
        .post('/api/chat')
        .set('Authorization', `Bearer ${alice.token}`)
        .send(body)
        .expect(200);
    const first = await chat({
      message: 'Round trip',
      system_prompt: 'Be kind.',
      temperature: 0.6,
    });
    const sessionId = first.body.session_id as string;
    await chat({ session_id: sessionId, regenerate_of: first.body.message_id });
    await chat({ session_id: sessionId, message: 'Next' });
    await request(t.url)
      .put(`/api/history/${sessionId}/messages/${first.body.message_id}/feedback`)
      .set('Authorization', `Bearer ${alice.token}`)
      .send({ rating: 'down', comment: 'first try' })
      .expect(200);
    const exported = (
      await as(alice).get(`/api/history/${sessionId}/export?format=json`).expect(200)
    ).body;

    const res = await as(alice).import({ data: exported }).expect(200);
    expect(res.body.errors).toEqual([]);
    const copy = res.body.imported[0].session_id as string;
    expect(copy).not.toBe(sessionId);

    const strip = (m: Message) => ({
      ...m,
      id: undefined,
      parent_id: undefined,
      sibling_ids: undefined,
    });
    const original = await read(sessionId, '?tree=full');
    const imported = await read(copy, '?tree=full');
    expect(shape(imported.messages)).toEqual(shape(original.messages));
    expect(imported.messages.map(strip)).toEqual(original.messages.map(strip));
    expect(imported).toMatchObject({
      settings: { system_prompt: 'Be kind.', model: null, temperature: 0.6, max_tokens: null },
    });
    expect((await read(copy)).messages.map((m) => m.content)).toEqual(
      (await read(sessionId)).messages.map((m) => m.content),
    );
  });

  it('reports each conversation it cannot import and imports the others (each all or nothing)', async () => {
    const before = (await as(alice).get('/api/history').expect(200)).body.total;
    const cycle = {
      title: 'Cycle',
      mapping: {
        x: {
          id: 'x',
          parent: 'y',
          message: { author: { role: 'user' }, content: { parts: ['x'] } },
        },
        y: {
          id: 'y',
          parent: 'x',
          message: { author: { role: 'assistant' }, content: { parts: ['y'] } },
        },
      },
    };
    const badRole = { title: 'Bad', messages: [{ id: 'm1', role: 'wizard', content: 'hi' }] };
    const orphan = {
      messages: [
        { id: 'm1', parent_id: null, role: 'user', content: 'hi' },
        { id: 'm2', parent_id: 'nowhere', role: 'assistant', content: 'lost' },
      ],
    };
    const res = await as(alice)
      .import({ data: [CHATGPT[1], cycle, 42, { foo: 1 }, badRole, orphan] })
      .expect(200);
    expect(res.body.imported).toEqual([
      { index: 0, session_id: expect.any(String), title: 'Tram photo', message_count: 2 },
    ]);
    expect(res.body.errors).toEqual([
      { index: 1, detail: 'the messages do not form a tree (a parent cycle)' },
      { index: 2, detail: 'a conversation must be a JSON object' },
      { index: 3, detail: expect.stringContaining('neither an export') },
      { index: 4, detail: 'message 1: role must be user or assistant' },
      { index: 5, detail: 'message 2: parent_id nowhere is not a message of this conversation' },
    ]);
    expect((await as(alice).get('/api/history').expect(200)).body.total).toBe(before + 1);
  });

  it('chains an export written before the message tree (no parent_id)', async () => {
    const res = await as(alice)
      .import({
        data: {
          title: 'Old export',
          messages: [
            {
              id: 'a',
              role: 'user',
              content: 'one',
              status: 'complete',
              created_at: '2025-01-01T00:00:00.000Z',
            },
            {
              id: 'b',
              role: 'assistant',
              content: 'two',
              status: 'pending',
              created_at: '2025-01-01T00:00:01.000Z',
            },
          ],
        },
      })
      .expect(200);
    const session = await read(res.body.imported[0].session_id);
    expect(shape(session.messages)).toEqual(['user: one <- root', 'assistant: two <- one']);
    // A reply still generating when it was exported never finished.
    expect(session.messages[1].status).toBe('aborted');
  });

  it.each<[string, unknown, string]>([
    ['no data', {}, 'data is required'],
    [
      'a string',
      { data: 'conversations' },
      'data must be an export object or a list of at most 100 conversations',
    ],
    [
      'too many conversations',
      { data: Array.from({ length: 101 }, () => ({})) },
      'data must be an export object or a list of at most 100 conversations',
    ],
    ['an unknown field', { data: [], format: 'chatgpt' }, 'format is not an allowed field'],
  ])('refuses %s with 400, importing nothing', async (_label, body, message) => {
    const before = (await as(alice).get('/api/history').expect(200)).body.total;
    const res = await as(alice).import(body);
    expect(res.status).toBe(400);
    expect(res.body).toEqual({
      detail: expect.stringContaining(message),
      errors: expect.arrayContaining([expect.objectContaining({ message })]),
    });
    expect((await as(alice).get('/api/history').expect(200)).body.total).toBe(before);
  });

  it('needs a bearer token', async () => {
    const res = await request(t.url).post('/api/history/import').send({ data: [] });
    expect(res.status).toBe(401);
  });
});
