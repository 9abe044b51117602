import { randomBytes } from 'node:crypto';
import type { Socket } from 'socket.io-client';
import {
  AppProcess,
  connectChatSocket,
  createTestDatabase,
  describeWithServices,
  ensureAppBuilt,
  killAllAppProcesses,
  nextSocketEvent,
  postSse,
  recordSocketEvents,
  serviceUrl,
  startAppProcess,
  TestDatabase,
} from '@app/testing';
import {
  api,
  ApiUser,
  longMessage,
  newUser,
  randomClientIp,
  settledMessages,
  sleep,
} from './multi-instance.helpers';

const BUSY = { detail: 'A reply is already being generated for this session' };
const RATE_LIMIT = 30;
const QUOTA = 5;

/**
 * Scale-out as deployed: two processes of the BUILT app (`node dist/src/main.js`) on their own
 * ports, sharing one fresh PostgreSQL database and the Redis of TEST_REDIS_URL. Rate limits,
 * quotas, session locks, abort requests and Socket.IO rooms must span both processes.
 */
describeWithServices(['postgres', 'redis'], 'two app processes (Postgres + Redis)', () => {
  let database: TestDatabase;
  let a: AppProcess;
  let b: AppProcess;
  const ip = randomClientIp();
  const sockets: Socket[] = [];

  beforeAll(async () => {
    await ensureAppBuilt();
    database = await createTestDatabase('postgres');
    const env = {
      DATABASE_URL: database.url,
      REDIS_URL: serviceUrl('redis'),
      SECRET_KEY: randomBytes(32).toString('hex'),
      TRUST_PROXY: '1',
      RATE_LIMIT__DEFAULT_PER_MINUTE: String(RATE_LIMIT),
      RATE_LIMIT__AUTH_PER_MINUTE: '1000',
      QUOTA__REQUESTS_PER_MINUTE: String(QUOTA),
      AI_SERVICES__LOCAL_DELAY_MS: '20',
      SHUTDOWN_GRACE_MS: '0',
    };
    a = await startAppProcess(env);
    // The first process migrated the database; the second starts like a multi-process install.
    b = await startAppProcess({ ...env, DATABASE_RUN_MIGRATIONS: 'false' });
  }, 300_000);

  afterEach(() => {
    for (const socket of sockets.splice(0)) socket.close();
  });

  afterAll(async () => {
    try {
      const exits = await Promise.all([a?.stop(), b?.stop()]);
      // Both leave cleanly on SIGTERM (exit code 0, not killed by the signal).
      for (const exit of exits) if (exit) expect(exit).toEqual({ code: 0, signal: null });
    } finally {
      await killAllAppProcesses();
      await database?.drop();
    }
  }, 60_000);

  const user = () => newUser(a.url, b.url, ip);
  const socketOf = async (url: string, who: ApiUser) => {
    const socket = await connectChatSocket(url, who.token);
    sockets.push(socket);
    return socket;
  };

  it('a rate limit used up through A is enforced on B', async () => {
    const alice = await user();
    for (let i = 0; i < RATE_LIMIT; i++) {
      const res = await api(i % 2 ? b.url : a.url, 'GET', '/api/users/me', { token: alice.token });
      expect(res.status).toBe(200);
    }
    for (const url of [b.url, a.url]) {
      const res = await api(url, 'GET', '/api/users/me', { token: alice.token });
      expect(res.status).toBe(429);
      expect(res.body).toEqual({ detail: expect.stringMatching(/^Too many requests; retry in/) });
      expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    }
    // Another user's budget is untouched.
    const bob = await user();
    expect((await api(b.url, 'GET', '/api/users/me', { token: bob.token })).status).toBe(200);
  });

  it("a user's chat quota is shared by both processes", async () => {
    const alice = await user();
    for (let i = 0; i < QUOTA; i++) {
      const res = await api(i % 2 ? b.url : a.url, 'POST', '/api/chat', {
        token: alice.token,
        body: { message: `hello ${i}`, max_tokens: 5 },
      });
      expect(res.status).toBe(200);
    }
    for (const url of [a.url, b.url]) {
      const res = await api(url, 'POST', '/api/chat', {
        token: alice.token,
        body: { message: 'one more', max_tokens: 5 },
      });
      expect(res.status).toBe(429);
      expect(res.body).toEqual({ detail: `Too many chat requests: at most ${QUOTA} per minute` });
      expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    }
  });

  it("a stream started on A reaches the user's socket on B, and no one else's", async () => {
    const alice = await user();
    const mallory = await user();
    const onA = await socketOf(a.url, alice);
    const onB = await socketOf(b.url, alice);
    const strangerOnB = await socketOf(b.url, mallory);
    const strangerEvents = recordSocketEvents(strangerOnB);
    const received = recordSocketEvents(onB);
    const doneOnB = nextSocketEvent(onB, 'chat:done', (p) => p.client_id === 'tab-1', 20_000);

    const ack = await onA.timeout(10_000).emitWithAck('chat:send', {
      message: 'hello from process A',
      client_id: 'tab-1',
    });
    expect(ack).toEqual({ ok: true, session_id: ack.session_id, message_id: ack.message_id });
    const done = await doneOnB;
    expect(done).toEqual(
      expect.objectContaining({
        message_id: ack.message_id,
        session_id: ack.session_id,
        finish_reason: 'stop',
        client_id: 'tab-1',
      }),
    );
    const events = received.map((e) => e.event);
    expect(events[0]).toBe('chat:start');
    expect(events.filter((e) => e === 'chat:delta').length).toBeGreaterThan(3);
    const streamed = received
      .filter((e) => e.event === 'chat:delta')
      .map((e) => e.payload.text)
      .join('');
    const messages = await settledMessages(b.url, alice.token, ack.session_id);
    expect(messages.map((m) => [m.role, m.status])).toEqual([
      ['user', 'complete'],
      ['assistant', 'complete'],
    ]);
    expect(streamed).toBe(messages[1].content);
    await sleep(200);
    expect(strangerEvents).toEqual([]);
  });

  it('POST /api/chat/{id}/abort on B stops a stream running on A', async () => {
    const alice = await user();
    const stream = await postSse(
      a.url,
      '/api/chat/stream',
      { message: longMessage() },
      {
        token: alice.token,
      },
    );
    expect(stream.status).toBe(200);
    const start = await stream.waitFor('start');
    await stream.waitFor('delta');
    const sessionId = start.data.session_id;

    const abort = await api(b.url, 'POST', `/api/chat/${sessionId}/abort`, { token: alice.token });
    expect(abort.status).toBe(202);
    expect(abort.body).toEqual({ session_id: sessionId, running: true });

    const events = await stream.finished;
    const last = events.at(-1)!;
    expect(last.event).toBe('done');
    expect(last.data.finish_reason).toBe('aborted');
    const messages = await settledMessages(b.url, alice.token, sessionId);
    expect(messages[1].status).toBe('aborted');
    const streamed = events
      .filter((e) => e.event === 'delta')
      .map((e) => e.data.text)
      .join('');
    expect(messages[1].content).toBe(streamed);
    expect(streamed.length).toBeGreaterThan(0);
    expect(streamed.length).toBeLessThan(longMessage().length);

    // Nothing runs any more, on either process.
    const again = await api(a.url, 'POST', `/api/chat/${sessionId}/abort`, { token: alice.token });
    expect(again.body).toEqual({ session_id: sessionId, running: false });
  });

  it('chat:abort sent to B stops a generation that a socket started on A', async () => {
    const alice = await user();
    const onA = await socketOf(a.url, alice);
    const onB = await socketOf(b.url, alice);
    const ack = await onA.timeout(10_000).emitWithAck('chat:send', {
      message: longMessage(),
      client_id: 'long',
    });
    expect(ack.ok).toBe(true);
    await nextSocketEvent(onA, 'chat:delta', (p) => p.session_id === ack.session_id);
    const doneOnA = nextSocketEvent(onA, 'chat:done', (p) => p.session_id === ack.session_id);

    const abortAck = await onB
      .timeout(10_000)
      .emitWithAck('chat:abort', { session_id: ack.session_id });
    expect(abortAck).toEqual({ ok: true, session_id: ack.session_id, running: true });
    expect(await doneOnA).toEqual(
      expect.objectContaining({ finish_reason: 'aborted', message_id: ack.message_id }),
    );
    const messages = await settledMessages(a.url, alice.token, ack.session_id);
    expect(messages[1].status).toBe('aborted');
  });

  it('concurrent requests on one session across both processes: exactly one runs', async () => {
    const alice = await user();
    const first = await api(a.url, 'POST', '/api/chat', {
      token: alice.token,
      body: { message: 'start a session', max_tokens: 5 },
    });
    expect(first.status).toBe(200);
    const sessionId = first.body.session_id;
    const message = longMessage(60);

    for (let round = 0; round < 2; round++) {
      // Three streamed requests on A and three plain ones on B, all at once.
      const results = await Promise.all([
        ...[0, 1, 2].map(async () => {
          const stream = await postSse(
            a.url,
            '/api/chat/stream',
            {
              message,
              session_id: sessionId,
            },
            { token: alice.token },
          );
          if (stream.status !== 200) return { status: stream.status, body: stream.json };
          const events = await stream.finished;
          return { status: 200, body: events.at(-1)?.data };
        }),
        ...[0, 1, 2].map(() =>
          api(b.url, 'POST', '/api/chat', {
            token: alice.token,
            body: { message, session_id: sessionId },
          }),
        ),
      ]);
      const winners = results.filter((r) => r.status === 200);
      const refused = results.filter((r) => r.status !== 200);
      expect(winners).toHaveLength(1);
      expect(refused).toHaveLength(5);
      for (const r of refused) {
        expect(r.status).toBe(409);
        expect(r.body).toEqual(BUSY);
      }
    }
    // One exchange per round was stored, nothing from the refused requests.
    const messages = await settledMessages(b.url, alice.token, sessionId);
    expect(messages).toHaveLength(2 + 2 * 2);
    expect(messages.every((m) => m.status === 'complete')).toBe(true);
  });

  it('one Idempotency-Key sent to both processes at once stores one exchange', async () => {
    const alice = await user();
    const key = `both-${randomBytes(4).toString('hex')}`;
    const send = (url: string) =>
      api(url, 'POST', '/api/chat', {
        token: alice.token,
        headers: { 'Idempotency-Key': key },
        body: { message: longMessage(40) },
      });
    const [fromA, fromB] = await Promise.all([send(a.url), send(b.url)]);
    const statuses = [fromA.status, fromB.status].sort();
    if (statuses[1] === 409) {
      expect(statuses).toEqual([200, 409]);
      const refused = fromA.status === 409 ? fromA : fromB;
      expect(refused.body).toEqual({
        detail: 'A request with this Idempotency-Key is still being processed',
      });
    } else {
      // The second arrived after the first finished: a replay of the same result.
      expect(statuses).toEqual([200, 200]);
      expect(fromB.body).toEqual(fromA.body);
    }
    const winner = fromA.status === 200 ? fromA : fromB;
    const retry = await send(fromA.status === 200 ? b.url : a.url);
    expect(retry.status).toBe(200);
    expect(retry.body).toEqual(winner.body);
    const history = await api(a.url, 'GET', '/api/history', { token: alice.token });
    expect(history.body.total).toBe(1);
    expect(await settledMessages(a.url, alice.token, winner.body.session_id)).toHaveLength(2);
  });
});
