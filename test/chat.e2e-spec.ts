import request from 'supertest';
import {
  connectChatSocket,
  describeE2e,
  LoggedInUser,
  openChatWs,
  postSse,
  registerAndLogin,
  settledMessages,
  SseEvent,
  startTestApp,
  TestApp,
} from '@app/testing';

const BUSY = { detail: 'A reply is already being generated for this session' };
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** A message whose echoed reply streams for a few seconds at 10 ms per word. */
const LONG = Array.from({ length: 300 }, (_, i) => `word${i}`).join(' ');

function deltaText(events: SseEvent[]): string {
  return events
    .filter((e) => e.event === 'delta')
    .map((e) => e.data.text)
    .join('');
}

describeE2e('chat over REST and SSE (local provider)', () => {
  let t: TestApp;
  let alice: LoggedInUser;
  let bob: LoggedInUser;
  const chat = (user: LoggedInUser, body: unknown) =>
    request(t.url)
      .post('/api/chat')
      .set('Authorization', `Bearer ${user.token}`)
      .send(body as object);

  beforeAll(async () => {
    t = await startTestApp({
      AI_SERVICES__LOCAL_DELAY_MS: '10',
      CHAT__HEARTBEAT_MS: '20',
      CHAT__MAX_MESSAGE_CHARS: '4000',
      SHUTDOWN_GRACE_MS: '0',
    });
    alice = await registerAndLogin(t.url);
    bob = await registerAndLogin(t.url);
  });
  afterAll(() => t.close());

  describe('POST /api/chat', () => {
    it('answers a first message, creating a session, and stores both messages', async () => {
      const res = await chat(alice, { message: 'Hello there' }).expect(200);
      expect(res.body).toEqual({
        session_id: expect.any(String),
        message_id: expect.any(String),
        reply: expect.stringContaining('You said: "Hello there"'),
        model: 'local/echo',
        usage: {
          prompt_tokens: expect.any(Number),
          completion_tokens: expect.any(Number),
          tokens: expect.any(Number),
        },
        finish_reason: 'stop',
        created_at: expect.stringMatching(/Z$/),
      });
      expect(res.body.usage.tokens).toBe(
        res.body.usage.prompt_tokens + res.body.usage.completion_tokens,
      );

      const history = await request(t.url)
        .get(`/api/history/${res.body.session_id}`)
        .set('Authorization', `Bearer ${alice.token}`)
        .expect(200);
      expect(history.body.title).toBe('Hello there');
      expect(history.body.messages).toEqual([
        expect.objectContaining({ role: 'user', content: 'Hello there', status: 'complete' }),
        expect.objectContaining({
          id: res.body.message_id,
          role: 'assistant',
          content: res.body.reply,
          status: 'complete',
          model: 'local/echo',
        }),
      ]);
    });

    it('continues a session with its earlier messages as context', async () => {
      const first = await chat(alice, { message: 'one', system_prompt: 'Be terse.' }).expect(200);
      const second = await chat(alice, {
        message: 'two',
        session_id: first.body.session_id,
      }).expect(200);
      expect(second.body.session_id).toBe(first.body.session_id);
      // The second prompt carries the first exchange: more prompt tokens than the first.
      expect(second.body.usage.prompt_tokens).toBeGreaterThan(
        first.body.usage.completion_tokens + 5,
      );
      const messages = await settledMessages(t, alice.token, first.body.session_id);
      expect(messages.map((m: { role: string }) => m.role)).toEqual([
        'user',
        'assistant',
        'user',
        'assistant',
      ]);
    });

    it('trims the oldest history to the context window instead of failing', async () => {
      // local/echo has 32768 tokens; each 3900-character message is ~975 tokens, its echo twice
      // that, so ~12 turns exceed the window.
      let sessionId: string | null = null;
      let lastPrompt = 0;
      for (let i = 0; i < 14; i++) {
        const res: request.Response = await chat(alice, {
          message: `${i} ${'x'.repeat(3890)}`,
          session_id: sessionId,
          max_tokens: 2000,
        }).expect(200);
        sessionId = res.body.session_id;
        lastPrompt = res.body.usage.prompt_tokens;
      }
      expect(lastPrompt).toBeLessThanOrEqual(32768 - 2000);
      expect(lastPrompt).toBeGreaterThan(20_000);
    });

    it.each([
      ['a missing message', {}, 'message'],
      ['a blank message', { message: '   ' }, 'message'],
      ['a message over CHAT__MAX_MESSAGE_CHARS', { message: 'x'.repeat(4001) }, 'message'],
      ['a numeric message', { message: 42 }, 'message'],
      ['a string temperature', { message: 'hi', temperature: '0.5' }, 'temperature'],
      ['a temperature above 2', { message: 'hi', temperature: 2.5 }, 'temperature'],
      ['a fractional max_tokens', { message: 'hi', max_tokens: 1.5 }, 'max_tokens'],
      ['max_tokens above 32768', { message: 'hi', max_tokens: 40000 }, 'max_tokens'],
      ['a numeric session_id', { message: 'hi', session_id: 7 }, 'session_id'],
      [
        'a system prompt over 8000 chars',
        { message: 'hi', system_prompt: 's'.repeat(8001) },
        'system_prompt',
      ],
      ['an unknown field', { message: 'hi', stream: true }, 'stream'],
    ])('rejects %s with 400', async (_case, body, field) => {
      const res = await chat(alice, body).expect(400);
      expect(res.body).toEqual({ detail: expect.any(String), errors: expect.any(Array) });
      expect(res.body.errors.map((e: { field: string }) => e.field)).toContain(field);
    });

    it('rejects an unknown model with 400 and stores nothing', async () => {
      const sessions = () =>
        request(t.url)
          .get('/api/history')
          .set('Authorization', `Bearer ${alice.token}`)
          .expect(200)
          .then((res) => res.body.total as number);
      const before = await sessions();
      const res = await chat(alice, { message: 'hi', model: 'nope/none' }).expect(400);
      expect(res.body).toEqual({
        detail: expect.any(String),
        errors: [{ field: 'model', message: expect.any(String) }],
      });
      expect(await sessions()).toBe(before);
    });

    it('rejects a message too long for the context window with 400', async () => {
      const res = await chat(alice, { message: 'hi', max_tokens: 32768 }).expect(400);
      expect(res.body.detail).toMatch(/context window/);
    });

    it("answers 404 for an unknown, malformed or another user's session", async () => {
      const own = await chat(bob, { message: 'bob here' }).expect(200);
      for (const sessionId of [
        own.body.session_id,
        '00000000-0000-4000-8000-000000000000',
        'not-a-uuid',
      ]) {
        const res = await chat(alice, { message: 'hi', session_id: sessionId }).expect(404);
        expect(res.body).toEqual({ detail: 'Session not found' });
      }
      // Bob's session is untouched.
      const messages = await settledMessages(t, bob.token, own.body.session_id);
      expect(messages).toHaveLength(2);
    });

    it('requires a token', async () => {
      const res = await request(t.url).post('/api/chat').send({ message: 'hi' }).expect(401);
      expect(res.body).toEqual({ detail: expect.any(String) });
    });
  });

  describe('POST /api/chat/stream', () => {
    it('streams start, deltas and done with increasing ids; deltas equal the stored reply', async () => {
      const stream = await postSse(
        t.url,
        '/api/chat/stream',
        { message: 'Stream me please' },
        {
          token: alice.token,
        },
      );
      expect(stream.status).toBe(200);
      expect(stream.headers['content-type']).toMatch(/^text\/event-stream/);
      expect(stream.headers['cache-control']).toBe('no-cache, no-transform');
      expect(stream.headers['x-accel-buffering']).toBe('no');
      const events = await stream.finished;

      expect(events[0].event).toBe('start');
      expect(events[0].data).toEqual({
        session_id: expect.any(String),
        message_id: expect.any(String),
        model: 'local/echo',
      });
      const last = events.at(-1)!;
      expect(last.event).toBe('done');
      expect(last.data).toEqual({
        message_id: events[0].data.message_id,
        usage: {
          prompt_tokens: expect.any(Number),
          completion_tokens: expect.any(Number),
          tokens: expect.any(Number),
        },
        finish_reason: 'stop',
        model: 'local/echo',
      });
      const middle = events.slice(1, -1);
      expect(middle.length).toBeGreaterThan(5);
      expect(middle.every((e) => e.event === 'delta')).toBe(true);
      const ids = events.map((e) => Number(e.id));
      expect(ids).toEqual(ids.map((_, i) => i + 1));

      const messages = await settledMessages(t, alice.token, events[0].data.session_id);
      expect(messages[1].content).toBe(deltaText(events));
      expect(messages[1].content).toContain('Stream me please');
    });

    it('sends comment heartbeats while streaming', async () => {
      const stream = await postSse(
        t.url,
        '/api/chat/stream',
        { message: LONG.slice(0, 600) },
        {
          token: alice.token,
        },
      );
      await stream.finished;
      expect(stream.comments).toContain('ping');
    });

    it('answers errors found before streaming as JSON with their status', async () => {
      const invalid = await postSse(
        t.url,
        '/api/chat/stream',
        { message: '' },
        { token: alice.token },
      );
      expect(invalid.status).toBe(400);
      expect(invalid.json).toEqual({ detail: expect.any(String), errors: expect.any(Array) });

      const missing = await postSse(
        t.url,
        '/api/chat/stream',
        { message: 'hi', session_id: '00000000-0000-4000-8000-000000000000' },
        { token: alice.token },
      );
      expect(missing.status).toBe(404);
      expect(missing.json).toEqual({ detail: 'Session not found' });

      const anonymous = await postSse(t.url, '/api/chat/stream', { message: 'hi' });
      expect(anonymous.status).toBe(401);
    });
  });

  describe('abort', () => {
    it('stops a running stream via POST /api/chat/{id}/abort and stores the partial reply', async () => {
      const stream = await postSse(
        t.url,
        '/api/chat/stream',
        { message: LONG },
        { token: alice.token },
      );
      const start = await stream.waitFor('start');
      await stream.waitFor('delta');
      const sessionId = start.data.session_id;

      // Another user cannot see or stop it.
      await request(t.url)
        .post(`/api/chat/${sessionId}/abort`)
        .set('Authorization', `Bearer ${bob.token}`)
        .expect(404, { detail: 'Session not found' });

      const abort = await request(t.url)
        .post(`/api/chat/${sessionId}/abort`)
        .set('Authorization', `Bearer ${alice.token}`)
        .expect(202);
      expect(abort.body).toEqual({ session_id: sessionId, running: true });

      const events = await stream.finished;
      const done = events.at(-1)!;
      expect(done.event).toBe('done');
      expect(done.data.finish_reason).toBe('aborted');
      const partial = deltaText(events);
      expect(partial.length).toBeGreaterThan(0);
      expect(partial).not.toContain('word299');

      const messages = await settledMessages(t, alice.token, sessionId);
      expect(messages[1]).toEqual(expect.objectContaining({ status: 'aborted', content: partial }));

      // Nothing running any more: still 202, running false.
      await request(t.url)
        .post(`/api/chat/${sessionId}/abort`)
        .set('Authorization', `Bearer ${alice.token}`)
        .expect(202, { session_id: sessionId, running: false });
    });

    it('aborts when the SSE client disconnects and keeps the partial text', async () => {
      const stream = await postSse(
        t.url,
        '/api/chat/stream',
        { message: LONG },
        { token: alice.token },
      );
      const start = await stream.waitFor('start');
      await stream.waitFor('delta');
      await sleep(100);
      stream.close();
      const messages = await settledMessages(t, alice.token, start.data.session_id);
      expect(messages[1].status).toBe('aborted');
      expect(messages[1].content.length).toBeGreaterThan(0);
      expect(messages[1].content).not.toContain('word299');
      // The session is free again.
      await chat(alice, { message: 'again', session_id: start.data.session_id }).expect(200);
    });

    it('answers 404 for unknown sessions', async () => {
      await request(t.url)
        .post('/api/chat/00000000-0000-4000-8000-000000000000/abort')
        .set('Authorization', `Bearer ${alice.token}`)
        .expect(404, { detail: 'Session not found' });
    });
  });

  describe('one generation per session', () => {
    it('answers exactly one of two concurrent requests with 409', async () => {
      const first = await chat(alice, { message: 'setup' }).expect(200);
      const sessionId = first.body.session_id;
      const results = await Promise.all([
        postSse(
          t.url,
          '/api/chat/stream',
          { message: LONG, session_id: sessionId },
          {
            token: alice.token,
          },
        ),
        postSse(
          t.url,
          '/api/chat/stream',
          { message: LONG, session_id: sessionId },
          {
            token: alice.token,
          },
        ),
      ]);
      const statuses = results.map((r) => r.status).sort();
      expect(statuses).toEqual([200, 409]);
      const conflict = results.find((r) => r.status === 409)!;
      expect(conflict.json).toEqual(BUSY);
      // The JSON endpoint is refused too while the stream runs.
      await chat(alice, { message: 'third', session_id: sessionId }).expect(409, BUSY);
      const running = results.find((r) => r.status === 200)!;
      running.close();
      const messages = await settledMessages(t, alice.token, sessionId);
      expect(messages).toHaveLength(4);
    });
  });

  describe('Idempotency-Key', () => {
    it('returns the first result for a retry and stores nothing twice', async () => {
      const key = `key-${Date.now()}`;
      const send = () =>
        chat(alice, { message: 'idempotent hello' }).set('Idempotency-Key', key).expect(200);
      const first = await send();
      const second = await send();
      expect(second.body).toEqual(first.body);
      const messages = await settledMessages(t, alice.token, first.body.session_id);
      expect(messages).toHaveLength(2);

      // The stream endpoint replays the same result as events.
      const replay = await postSse(
        t.url,
        '/api/chat/stream',
        { message: 'idempotent hello' },
        {
          token: alice.token,
          headers: { 'Idempotency-Key': key },
        },
      );
      const events = await replay.finished;
      expect(events.map((e) => e.event)).toEqual(['start', 'delta', 'done']);
      expect(events[0].data.message_id).toBe(first.body.message_id);
      expect(events[1].data.text).toBe(first.body.reply);

      // Keys are per user: Bob's request with the same key is his own.
      const bobs = await chat(bob, { message: 'idempotent hello' })
        .set('Idempotency-Key', key)
        .expect(200);
      expect(bobs.body.session_id).not.toBe(first.body.session_id);
    });

    it('answers 409 for the same key with another body, and while the first still runs', async () => {
      const key = `key-${Date.now()}-b`;
      const stream = await postSse(
        t.url,
        '/api/chat/stream',
        { message: LONG },
        {
          token: alice.token,
          headers: { 'Idempotency-Key': key },
        },
      );
      await stream.waitFor('start');
      const running = await chat(alice, { message: LONG }).set('Idempotency-Key', key).expect(409);
      expect(running.body).toEqual({ detail: expect.stringMatching(/still being processed/) });
      const other = await chat(alice, { message: 'different' })
        .set('Idempotency-Key', key)
        .expect(409);
      expect(other.body).toEqual({ detail: expect.stringMatching(/different request body/) });
      stream.close();
    });

    it('rejects a malformed key with 400', async () => {
      const res = await chat(alice, { message: 'hi' })
        .set('Idempotency-Key', 'k'.repeat(256))
        .expect(400);
      expect(res.body.detail).toMatch(/Idempotency-Key/);
    });
  });
});

describeE2e('chat quota', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ QUOTA__REQUESTS_PER_MINUTE: '2' });
  });
  afterAll(() => t.close());

  it('answers 429 with Retry-After once the per-minute quota is used', async () => {
    const user = await registerAndLogin(t.url);
    const send = () =>
      request(t.url)
        .post('/api/chat')
        .set('Authorization', `Bearer ${user.token}`)
        .send({ message: 'hi' });
    await send().expect(200);
    await send().expect(200);
    const res = await send().expect(429);
    expect(res.body).toEqual({ detail: expect.any(String) });
    expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
    const stream = await postSse(
      t.url,
      '/api/chat/stream',
      { message: 'hi' },
      { token: user.token },
    );
    expect(stream.status).toBe(429);

    // The same per-user quota covers Socket.IO and the plain WebSocket.
    const socket = await connectChatSocket(t.url, user.token);
    try {
      const ack = await socket.timeout(5_000).emitWithAck('chat:send', { message: 'hi' });
      expect(ack).toEqual({ ok: false, detail: expect.any(String), status: 429 });
    } finally {
      socket.close();
    }
    const ws = await openChatWs(t.url, user.token);
    try {
      ws.send({ message: 'hi' });
      expect(await ws.next((f) => f.type === 'error')).toEqual(
        expect.objectContaining({ status: 429, detail: expect.any(String) }),
      );
    } finally {
      await ws.close();
    }
  });
});
