import request from 'supertest';
import type { Socket } from 'socket.io-client';
import {
  ChatWsClient,
  connectChatSocket,
  describeE2e,
  LoggedInUser,
  nextSocketEvent,
  openChatWs,
  postSse,
  ProviderSimulator,
  simulatedGroqEnv,
  registerAndLogin,
  startTestApp,
  TestApp,
} from '@app/testing';

const UNKNOWN_ID = '00000000-0000-4000-8000-000000000000';

interface Message {
  id: string;
  parent_id: string | null;
  sibling_index: number;
  sibling_count: number;
  sibling_ids: string[];
  role: string;
  content: string;
  status: string;
}

/**
 * The message tree through the API: regenerate (`regenerate_of`), edit (`parent_id`), switch
 * (`PATCH active_message_id`) and the tree reads, with the context a provider receives checked
 * at the simulator's request log.
 */
describeE2e('chat: regenerate, edit and branch (message tree)', () => {
  let t: TestApp;
  let sim: ProviderSimulator;
  let alice: LoggedInUser;
  let bob: LoggedInUser;
  let replies = 0;
  const sockets: Socket[] = [];
  const wsClients: ChatWsClient[] = [];

  const as = (user: LoggedInUser) => ({
    chat: (body: object, headers: Record<string, string> = {}) =>
      request(t.url)
        .post('/api/chat')
        .set('Authorization', `Bearer ${user.token}`)
        .set(headers)
        .send(body),
    get: (path: string) => request(t.url).get(path).set('Authorization', `Bearer ${user.token}`),
    patch: (path: string, body: object) =>
      request(t.url).patch(path).set('Authorization', `Bearer ${user.token}`).send(body),
  });
  /** The active path (or `?tree=full`) of a session. */
  const read = async (user: LoggedInUser, sessionId: string, query = '') =>
    (await as(user).get(`/api/history/${sessionId}${query}`).expect(200)).body as {
      active_message_id: string | null;
      tree: string;
      total: number;
      messages: Message[];
    };
  /** What the provider was sent last: the conversation as role: text lines. */
  const lastUpstream = () =>
    sim.requests
      .at(-1)!
      .messages.map((m: { role: string; content: unknown }) => `${m.role}: ${String(m.content)}`);

  beforeAll(async () => {
    // Every reply is distinct, so regenerated siblings can be told apart.
    sim = new ProviderSimulator({ reply: (message) => `reply ${++replies} to ${message}` });
    const url = await sim.start();
    t = await startTestApp({
      ...simulatedGroqEnv(url),
      SHUTDOWN_GRACE_MS: '0',
    });
    [alice, bob] = await Promise.all([registerAndLogin(t.url), registerAndLogin(t.url)]);
  });
  afterAll(async () => {
    for (const socket of sockets) socket.disconnect();
    await Promise.all(wsClients.map((client) => client.close()));
    await t?.close();
    await sim?.stop();
  });

  /** A session of `user` with the exchanges q1 → a1 (→ q2 → a2 …), one per message. */
  async function conversation(user: LoggedInUser, ...questions: string[]) {
    let sessionId: string | undefined;
    for (const message of questions) {
      const res = await as(user).chat({ message, session_id: sessionId }).expect(200);
      sessionId = res.body.session_id;
    }
    return { sessionId: sessionId!, path: (await read(user, sessionId!)).messages };
  }

  it('regenerate twice → three sibling replies; switching to the first sends only its branch', async () => {
    const { sessionId, path } = await conversation(alice, 'q1');
    const first = path[1];

    const second = await as(alice)
      .chat({ session_id: sessionId, regenerate_of: first.id })
      .expect(200);
    // The regenerated reply answers the same user message, without the reply it replaces.
    expect(lastUpstream()).toEqual(['user: q1']);
    const third = await as(alice)
      .chat({ session_id: sessionId, regenerate_of: second.body.message_id, temperature: 0.1 })
      .expect(200);
    expect(sim.requests.at(-1)!.body).toEqual(expect.objectContaining({ temperature: 0.1 }));
    expect(third.body.session_id).toBe(sessionId);

    const after = await read(alice, sessionId);
    expect(after.active_message_id).toBe(third.body.message_id);
    expect(after.messages.map((m) => [m.role, m.sibling_index, m.sibling_count])).toEqual([
      ['user', 0, 1],
      ['assistant', 2, 3],
    ]);
    const siblings = after.messages[1].sibling_ids;
    expect(siblings).toEqual([first.id, second.body.message_id, third.body.message_id]);
    expect(after.messages[1]).toMatchObject({ parent_id: path[0].id, content: third.body.reply });

    const switched = await as(alice)
      .patch(`/api/history/${sessionId}`, { active_message_id: first.id })
      .expect(200);
    expect(switched.body.session_id).toBe(sessionId);
    const onFirst = await read(alice, sessionId);
    expect(onFirst.active_message_id).toBe(first.id);
    expect(onFirst.messages[1]).toMatchObject({
      id: first.id,
      sibling_index: 0,
      content: first.content,
    });

    await as(alice).chat({ message: 'q2', session_id: sessionId }).expect(200);
    expect(lastUpstream()).toEqual([`user: q1`, `assistant: ${first.content}`, 'user: q2']);
    const full = await read(alice, sessionId, '?tree=full');
    expect(full).toMatchObject({ tree: 'full', total: 6 });
    expect(full.messages.at(-2)).toMatchObject({
      role: 'user',
      content: 'q2',
      parent_id: first.id,
    });
  });

  it('edit the second user message → a new sibling branch; the old one stays readable by id', async () => {
    const { sessionId, path } = await conversation(alice, 'q1', 'q2');
    const [q1, a1, q2, a2] = path;

    const edited = await as(alice)
      .chat({ session_id: sessionId, parent_id: a1.id, message: 'q2 edited' })
      .expect(200);
    expect(lastUpstream()).toEqual([`user: q1`, `assistant: ${a1.content}`, 'user: q2 edited']);

    const now = await read(alice, sessionId);
    expect(now.messages.map((m) => m.content)).toEqual([
      q1.content,
      a1.content,
      'q2 edited',
      edited.body.reply,
    ]);
    expect(now.messages[2]).toMatchObject({ parent_id: a1.id, sibling_index: 1, sibling_count: 2 });
    expect(now.messages[2].sibling_ids[0]).toBe(q2.id);

    const full = await read(alice, sessionId, '?tree=full');
    expect(full.messages.find((m) => m.id === a2.id)).toMatchObject({
      content: a2.content,
      parent_id: q2.id,
    });
    // Switching to the old user message shows its branch down to its reply.
    await as(alice).patch(`/api/history/${sessionId}`, { active_message_id: q2.id }).expect(200);
    expect((await read(alice, sessionId)).messages.map((m) => m.id)).toEqual([
      q1.id,
      a1.id,
      q2.id,
      a2.id,
    ]);
    // …and switching to the first message follows the newest branch again.
    await as(alice).patch(`/api/history/${sessionId}`, { active_message_id: q1.id }).expect(200);
    expect((await read(alice, sessionId)).active_message_id).toBe(edited.body.message_id);
  });

  it('parent_id null edits the first message: a new root with its own reply', async () => {
    const { sessionId, path } = await conversation(alice, 'first', 'second');
    const res = await as(alice)
      .chat({ session_id: sessionId, parent_id: null, message: 'first, reworded' })
      .expect(200);
    expect(lastUpstream()).toEqual(['user: first, reworded']);
    const now = await read(alice, sessionId);
    expect(now.messages.map((m) => m.content)).toEqual(['first, reworded', res.body.reply]);
    expect(now.messages[0]).toMatchObject({
      parent_id: null,
      sibling_index: 1,
      sibling_ids: [path[0].id, now.messages[0].id],
    });
  });

  it('pages the active path, with total counting the path only', async () => {
    const { sessionId, path } = await conversation(alice, 'p1', 'p2');
    await as(alice).chat({ session_id: sessionId, regenerate_of: path[3].id }).expect(200);
    const page = (await as(alice).get(`/api/history/${sessionId}?page=2&per_page=3`).expect(200))
      .body;
    expect(page).toMatchObject({ total: 4, page: 2, per_page: 3 });
    expect(page.messages).toHaveLength(1);
    expect(page.messages[0]).toMatchObject({ sibling_index: 1, sibling_count: 2 });
    const full = (
      await as(alice).get(`/api/history/${sessionId}?tree=full&per_page=3&page=2`).expect(200)
    ).body;
    expect(full).toMatchObject({ total: 5 });
    expect(full.messages).toHaveLength(2);
  });

  it('replays a regeneration sent again with the same Idempotency-Key (one new sibling)', async () => {
    const { sessionId, path } = await conversation(alice, 'idem');
    const body = { session_id: sessionId, regenerate_of: path[1].id };
    const first = await as(alice).chat(body, { 'Idempotency-Key': 'regen-1' }).expect(200);
    const again = await as(alice).chat(body, { 'Idempotency-Key': 'regen-1' }).expect(200);
    expect(again.body).toEqual(first.body);
    expect((await read(alice, sessionId, '?tree=full')).total).toBe(3);
  });

  it('stores a failed regeneration with its status, as any turn (nothing lost)', async () => {
    const { sessionId, path } = await conversation(alice, 'fragile');
    sim.script({ status: 500 });
    const res = await as(alice).chat({ session_id: sessionId, regenerate_of: path[1].id });
    expect(res.status).toBe(502);
    const now = await read(alice, sessionId);
    expect(now.messages[1]).toMatchObject({
      status: 'error',
      parent_id: path[0].id,
      sibling_index: 1,
      sibling_count: 2,
    });
    expect(now.messages[1].sibling_ids[0]).toBe(path[1].id);
    // The good reply is still there to switch back to, and then continues as before.
    await as(alice)
      .patch(`/api/history/${sessionId}`, { active_message_id: path[1].id })
      .expect(200);
    await as(alice).chat({ message: 'again', session_id: sessionId }).expect(200);
    expect(lastUpstream()).toEqual([
      'user: fragile',
      `assistant: ${path[1].content}`,
      'user: again',
    ]);
  });

  it('keeps one generation per session across branches (409)', async () => {
    const { sessionId, path } = await conversation(alice, 'busy');
    sim.script({ headersDelayMs: 1_500 });
    const slow = as(alice).chat({ session_id: sessionId, regenerate_of: path[1].id });
    const running = slow.then((res) => res);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const edit = await as(alice).chat({
      session_id: sessionId,
      parent_id: null,
      message: 'other branch',
    });
    expect(edit.status).toBe(409);
    expect(edit.body).toEqual({ detail: 'A reply is already being generated for this session' });
    expect((await running).status).toBe(200);
    expect((await read(alice, sessionId, '?tree=full')).total).toBe(3);
  });

  it('regenerates over SSE, Socket.IO and WebSocket, and edits over each', async () => {
    const { sessionId, path } = await conversation(alice, 'transports');
    const reply = path[1].id;

    const stream = await postSse(
      t.url,
      '/api/chat/stream',
      { session_id: sessionId, regenerate_of: reply },
      { token: alice.token },
    );
    const events = await stream.finished;
    expect(events[0].event).toBe('start');
    expect(events.at(-1)?.event).toBe('done');

    const socket = await connectChatSocket(t.url, alice.token);
    sockets.push(socket);
    const done = nextSocketEvent(
      socket,
      'chat:done',
      (p: { client_id?: string }) => p.client_id === 'regen',
    );
    const ack = await socket.timeout(10_000).emitWithAck('chat:send', {
      session_id: sessionId,
      regenerate_of: reply,
      client_id: 'regen',
    });
    expect(ack).toMatchObject({ ok: true, session_id: sessionId });
    await done;

    const ws = await openChatWs(t.url, alice.token);
    wsClients.push(ws);
    ws.send({ session_id: sessionId, regenerate_of: reply });
    await ws.next((f) => f.type === 'done');
    ws.send({ session_id: sessionId, parent_id: null, message: 'edited over ws' });
    await ws.next(
      (f) =>
        f.type === 'done' &&
        f.message_id !== undefined &&
        ws.frames.filter((x) => x.type === 'done').length === 2,
    );

    const full = await read(alice, sessionId, '?tree=full');
    const replies = full.messages.filter((m) => m.parent_id === path[0].id);
    expect(replies).toHaveLength(4);
    expect(replies.every((m) => m.role === 'assistant' && m.status === 'complete')).toBe(true);
    expect(full.messages.filter((m) => m.parent_id === null).map((m) => m.content)).toEqual([
      'transports',
      'edited over ws',
    ]);

    // A bad request over a socket is a 400 there too.
    const bad = await socket.timeout(10_000).emitWithAck('chat:send', { regenerate_of: reply });
    expect(bad).toMatchObject({ ok: false, status: 400 });
  });

  describe('refuses bad branching requests, storing nothing', () => {
    let sessionId: string;
    let path: Message[];
    let bobReply: string;
    let otherSessionReply: string;

    beforeAll(async () => {
      ({ sessionId, path } = await conversation(alice, 'base'));
      bobReply = (await conversation(bob, 'bob')).path[1].id;
      otherSessionReply = (await conversation(alice, 'elsewhere')).path[1].id;
    });

    const stored = async () => (await read(alice, sessionId, '?tree=full')).total;

    it.each<[string, (ids: { reply: string; question: string }) => object, number, string]>([
      ['regenerate_of without session_id', (i) => ({ regenerate_of: i.reply }), 400, 'session_id'],
      [
        'parent_id without session_id',
        (i) => ({ parent_id: i.reply, message: 'x' }),
        400,
        'session_id',
      ],
      [
        'regenerate_of with a message',
        (i) => ({ regenerate_of: i.reply, message: 'x' }),
        400,
        'message',
      ],
      [
        'regenerate_of with parent_id',
        (i) => ({ regenerate_of: i.reply, parent_id: i.reply }),
        400,
        'parent_id',
      ],
      [
        'regenerate_of naming a user message',
        (i) => ({ regenerate_of: i.question }),
        400,
        'regenerate_of',
      ],
      [
        'parent_id naming a user message',
        (i) => ({ parent_id: i.question, message: 'x' }),
        400,
        'parent_id',
      ],
      ['an empty regenerate_of', () => ({ regenerate_of: '' }), 400, 'regenerate_of'],
      ['a numeric parent_id', () => ({ parent_id: 42, message: 'x' }), 400, 'parent_id'],
      ['a parent_id without a message', (i) => ({ parent_id: i.reply }), 400, 'message'],
    ])('%s → 400', async (_label, body, status, field) => {
      const before = await stored();
      const res = await as(alice).chat({
        ...(field === 'session_id' ? {} : { session_id: sessionId }),
        ...body({ reply: path[1].id, question: path[0].id }),
      });
      expect(res.status).toBe(status);
      expect(res.body).toEqual({
        detail: expect.any(String),
        errors: expect.arrayContaining([expect.objectContaining({ field })]),
      });
      expect(await stored()).toBe(before);
    });

    it.each<[string, () => object]>([
      ['an unknown regenerate_of', () => ({ regenerate_of: UNKNOWN_ID })],
      ['a malformed regenerate_of', () => ({ regenerate_of: 'not-an-id' })],
      ["another session's reply as regenerate_of", () => ({ regenerate_of: otherSessionReply })],
      ["another user's reply as parent_id", () => ({ parent_id: bobReply, message: 'x' })],
    ])('%s → 404 Message not found', async (_label, body) => {
      const before = await stored();
      const res = await as(alice).chat({ session_id: sessionId, ...body() });
      expect(res.status).toBe(404);
      expect(res.body).toEqual({ detail: 'Message not found' });
      expect(await stored()).toBe(before);
    });

    it("another user's session → 404 Session not found", async () => {
      const res = await as(bob).chat({ session_id: sessionId, regenerate_of: path[1].id });
      expect(res.status).toBe(404);
      expect(res.body).toEqual({ detail: 'Session not found' });
    });

    it.each<[string, () => object, number, object]>([
      [
        'an unknown message',
        () => ({ active_message_id: UNKNOWN_ID }),
        404,
        { detail: 'Message not found' },
      ],
      [
        "another session's message",
        () => ({ active_message_id: otherSessionReply }),
        404,
        { detail: 'Message not found' },
      ],
      ['neither field', () => ({}), 400, { detail: expect.any(String), errors: expect.any(Array) }],
      [
        'a numeric id',
        () => ({ active_message_id: 42 }),
        400,
        {
          detail: expect.any(String),
          errors: expect.arrayContaining([
            { field: 'active_message_id', message: 'active_message_id must be a string' },
          ]),
        },
      ],
      [
        'an empty id',
        () => ({ active_message_id: '' }),
        400,
        { detail: expect.any(String), errors: expect.any(Array) },
      ],
    ])('PATCH active_message_id: %s is refused', async (_label, body, status, expected) => {
      const res = await as(alice).patch(`/api/history/${sessionId}`, body());
      expect(res.status).toBe(status);
      expect(res.body).toEqual(expected);
      expect((await read(alice, sessionId)).active_message_id).toBe(path[1].id);
    });

    it("PATCH active_message_id on another user's session → 404", async () => {
      const res = await as(bob).patch(`/api/history/${sessionId}`, {
        active_message_id: path[0].id,
      });
      expect(res.status).toBe(404);
      expect(res.body).toEqual({ detail: 'Session not found' });
    });

    it('GET with an unknown tree view → 400', async () => {
      const res = await as(alice).get(`/api/history/${sessionId}?tree=everything`);
      expect(res.status).toBe(400);
      expect(res.body).toEqual({
        detail: 'tree must be one of: path, full',
        errors: [{ field: 'tree', message: 'tree must be one of: path, full' }],
      });
    });
  });
});
