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
  PrivateRedis,
  recordSocketEvents,
  startAppProcess,
  TestDatabase,
} from '@app/testing';
import {
  api,
  ApiUser,
  eventually,
  longMessage,
  newUser,
  randomClientIp,
  settledMessages,
} from './multi-instance.helpers';

const BUSY = { detail: 'A reply is already being generated for this session' };
const RATE_LIMIT = 20;

/**
 * Redis goes away and comes back under two running app processes (docs/DEPLOYMENT.md,
 * "Degraded modes"). A private redis-server on a random port is killed and restarted; the
 * shared TEST_REDIS_URL is never touched.
 *
 * While Redis is down each process keeps serving on its own: rate limits, the login lock and
 * quotas fail open, session locks and Idempotency-Key results fall back to the process, Socket.IO
 * events and aborts reach only the process's own clients, /health/ready answers 503 while
 * /health/live stays 200. Once Redis is back everything is shared again, without a restart.
 */
describeWithServices(['postgres'], 'Redis restarted under two app processes', () => {
  let redis: PrivateRedis;
  let database: TestDatabase;
  let a: AppProcess;
  let b: AppProcess;
  /** Started while Redis is down. */
  let c: AppProcess | undefined;
  let env: Record<string, string>;
  const ip = randomClientIp();
  const sockets: Socket[] = [];
  let alice: ApiUser;

  beforeAll(async () => {
    await ensureAppBuilt();
    redis = await PrivateRedis.start();
    database = await createTestDatabase('postgres');
    env = {
      DATABASE_URL: database.url,
      REDIS_URL: redis.url,
      SECRET_KEY: randomBytes(32).toString('hex'),
      TRUST_PROXY: '1',
      RATE_LIMIT__DEFAULT_PER_MINUTE: String(RATE_LIMIT),
      RATE_LIMIT__AUTH_PER_MINUTE: '1000',
      AI_SERVICES__LOCAL_DELAY_MS: '20',
      SHUTDOWN_GRACE_MS: '0',
    };
    a = await startAppProcess(env);
    b = await startAppProcess({ ...env, DATABASE_RUN_MIGRATIONS: 'false' });
    alice = await newUser(a.url, b.url, ip);
  }, 300_000);

  afterEach(() => {
    for (const socket of sockets.splice(0)) socket.close();
  });

  afterAll(async () => {
    try {
      const exits = await Promise.all([a?.stop(), b?.stop(), c?.stop()]);
      for (const exit of exits) if (exit) expect(exit).toEqual({ code: 0, signal: null });
    } finally {
      await killAllAppProcesses();
      await redis?.kill();
      await database?.drop();
    }
  }, 60_000);

  const socketOf = async (url: string, token: string) => {
    const socket = await connectChatSocket(url, token);
    sockets.push(socket);
    return socket;
  };

  /** Starts a long SSE stream on `url` and resolves once its first delta arrived. */
  async function runningStream(url: string, token: string) {
    const stream = await postSse(url, '/api/chat/stream', { message: longMessage() }, { token });
    expect(stream.status).toBe(200);
    const start = await stream.waitFor('start');
    await stream.waitFor('delta');
    return { stream, sessionId: start.data.session_id as string };
  }

  /** The shared-state checks that must hold whenever Redis is up. */
  async function expectSharedState(): Promise<void> {
    // An abort sent to B reaches the stream on A (pub/sub).
    const { stream, sessionId } = await runningStream(a.url, alice.token);
    const busy = await api(b.url, 'POST', '/api/chat', {
      token: alice.token,
      body: { message: 'meanwhile', session_id: sessionId },
    });
    expect(busy.status).toBe(409);
    expect(busy.body).toEqual(BUSY);
    const abort = await api(b.url, 'POST', `/api/chat/${sessionId}/abort`, { token: alice.token });
    expect(abort.body).toEqual({ session_id: sessionId, running: true });
    expect((await stream.finished).at(-1)!.data.finish_reason).toBe('aborted');
    expect((await settledMessages(a.url, alice.token, sessionId))[1].status).toBe('aborted');

    // A socket on B receives what a socket on A started (Socket.IO Redis adapter).
    const onA = await socketOf(a.url, alice.token);
    const onB = await socketOf(b.url, alice.token);
    const doneOnB = nextSocketEvent(onB, 'chat:done', (p) => p.client_id === 'shared');
    const ack = await onA
      .timeout(10_000)
      .emitWithAck('chat:send', { message: 'hello', client_id: 'shared' });
    expect(ack.ok).toBe(true);
    expect(await doneOnB).toEqual(expect.objectContaining({ message_id: ack.message_id }));
  }

  it('with Redis up, both processes share locks, aborts and Socket.IO rooms', async () => {
    await expectSharedState();
    expect((await api(a.url, 'GET', '/health/ready')).status).toBe(200);
  });

  describe('while Redis is down', () => {
    beforeAll(async () => {
      await redis.kill();
    });

    it('liveness stays 200 and readiness reports Redis down (503 {detail})', async () => {
      for (const app of [a, b]) {
        expect((await api(app.url, 'GET', '/health/live')).status).toBe(200);
        const ready = await api(app.url, 'GET', '/health/ready');
        expect(ready.status).toBe(503);
        expect(ready.body).toEqual(
          expect.objectContaining({
            detail: 'Not ready: redis is down',
            error: { redis: { status: 'down', message: 'Redis is unreachable' } },
          }),
        );
        expect(ready.text).not.toContain(String(redis.port));
      }
    });

    it('registration, login and reads keep working without delay; rate limits fail open', async () => {
      const started = Date.now();
      const bob = await newUser(b.url, a.url, ip);
      // More requests than RATE_LIMIT__DEFAULT_PER_MINUTE: the counters are unreachable.
      for (let i = 0; i < RATE_LIMIT + 3; i++) {
        const res = await api(i % 2 ? a.url : b.url, 'GET', '/api/users/me', { token: bob.token });
        expect(res.status).toBe(200);
      }
      // Nothing waits for Redis reconnection attempts.
      expect(Date.now() - started).toBeLessThan(5_000);
    });

    it('chat works on each process, one generation per session is still enforced there', async () => {
      const { stream, sessionId } = await runningStream(a.url, alice.token);
      const busy = await api(a.url, 'POST', '/api/chat', {
        token: alice.token,
        body: { message: 'meanwhile', session_id: sessionId },
      });
      expect(busy.status).toBe(409);
      expect(busy.body).toEqual(BUSY);
      // An abort on the process that runs the stream still stops it.
      const abort = await api(a.url, 'POST', `/api/chat/${sessionId}/abort`, {
        token: alice.token,
      });
      expect(abort.body).toEqual({ session_id: sessionId, running: true });
      expect((await stream.finished).at(-1)!.data.finish_reason).toBe('aborted');
      expect((await settledMessages(a.url, alice.token, sessionId))[1].status).toBe('aborted');

      const reply = await api(b.url, 'POST', '/api/chat', {
        token: alice.token,
        body: { message: 'still there?', max_tokens: 5 },
      });
      expect(reply.status).toBe(200);
      expect(reply.body.usage.tokens).toBeGreaterThan(0);
    });

    it('an Idempotency-Key retry to the same process is answered from the process', async () => {
      const key = `down-${randomBytes(4).toString('hex')}`;
      const send = () =>
        api(b.url, 'POST', '/api/chat', {
          token: alice.token,
          headers: { 'Idempotency-Key': key },
          body: { message: 'once', max_tokens: 5 },
        });
      const first = await send();
      expect(first.status).toBe(200);
      const retry = await send();
      expect(retry.status).toBe(200);
      expect(retry.body).toEqual(first.body);
      expect(await settledMessages(b.url, alice.token, first.body.session_id)).toHaveLength(2);
    });

    it('a process started during the outage comes up and serves', async () => {
      const started = Date.now();
      c = await startAppProcess({ ...env, DATABASE_RUN_MIGRATIONS: 'false' });
      expect((await api(c.url, 'GET', '/health/ready')).status).toBe(503);
      const dave = await newUser(c.url, c.url, ip);
      const reply = await api(c.url, 'POST', '/api/chat', {
        token: dave.token,
        body: { message: 'hello from a new process', max_tokens: 5 },
      });
      expect(reply.status).toBe(200);
      expect(Date.now() - started).toBeLessThan(20_000);
    }, 40_000);

    it("Socket.IO streams reach the process's own sockets, and no process crashes", async () => {
      const onA = await socketOf(a.url, alice.token);
      const otherTabOnA = await socketOf(a.url, alice.token);
      const doneOnOtherTab = nextSocketEvent(otherTabOnA, 'chat:done', (p) => p.client_id === 'x');
      const ack = await onA
        .timeout(10_000)
        .emitWithAck('chat:send', { message: 'hello', client_id: 'x' });
      expect(ack.ok).toBe(true);
      expect(await doneOnOtherTab).toEqual(
        expect.objectContaining({ message_id: ack.message_id, finish_reason: 'stop' }),
      );
      // Publishing to the other process failed; that must not take the process down.
      expect(a.running).toBe(true);
      expect(b.running).toBe(true);
      expect(a.logs()).not.toMatch(/Unhandled|unhandledRejection/);
    });
  });

  describe('once Redis is back', () => {
    beforeAll(async () => {
      await redis.restart();
    });

    it('readiness recovers on every process without a restart', async () => {
      const pids = [a.pid, b.pid];
      for (const app of [a, b, c!]) {
        await eventually('readiness 200', async () => {
          return (await api(app.url, 'GET', '/health/ready')).status === 200;
        });
      }
      expect([a.pid, b.pid]).toEqual(pids);
      expect(a.running && b.running).toBe(true);
    });

    it('locks, aborts and Socket.IO rooms are shared again', async () => {
      // The subscribers re-subscribe on reconnect; give them the moment they need.
      await eventually('cross-process socket delivery', async () => {
        const onA = await socketOf(a.url, alice.token);
        const onB = await socketOf(b.url, alice.token);
        const seen = recordSocketEvents(onB);
        const ack = await onA
          .timeout(10_000)
          .emitWithAck('chat:send', { message: 'ping', client_id: 'probe' });
        await nextSocketEvent(onA, 'chat:done', (p) => p.message_id === ack.message_id);
        await new Promise((resolve) => setTimeout(resolve, 200));
        return seen.some((e) => e.event === 'chat:done' && e.payload.message_id === ack.message_id);
      });
      await expectSharedState();
    });

    it('the process started during the outage joins the shared state', async () => {
      await eventually('socket on C receives a stream started on A', async () => {
        const onA = await socketOf(a.url, alice.token);
        const onC = await socketOf(c!.url, alice.token);
        const seen = recordSocketEvents(onC);
        const ack = await onA
          .timeout(10_000)
          .emitWithAck('chat:send', { message: 'ping', client_id: 'probe-c' });
        await nextSocketEvent(onA, 'chat:done', (p) => p.message_id === ack.message_id);
        await new Promise((resolve) => setTimeout(resolve, 200));
        return seen.some((e) => e.event === 'chat:done' && e.payload.message_id === ack.message_id);
      });
      // An abort sent to C stops a stream on A once C's own Redis connections have reconnected
      // (each ioredis client reconnects on its own backoff, so the socket adapter may be back a
      // moment before the lock/abort client): retried with a fresh stream until it is.
      await eventually('an abort sent to C stops a stream on A', async () => {
        const { stream, sessionId } = await runningStream(a.url, alice.token);
        const abort = await api(c!.url, 'POST', `/api/chat/${sessionId}/abort`, {
          token: alice.token,
        });
        if (abort.body.running !== true) {
          await api(a.url, 'POST', `/api/chat/${sessionId}/abort`, { token: alice.token });
          await stream.finished;
          return false;
        }
        expect(abort.body).toEqual({ session_id: sessionId, running: true });
        expect((await stream.finished).at(-1)!.data.finish_reason).toBe('aborted');
        return true;
      });
    });

    it('rate limits are shared again: a limit used up through A is enforced on B', async () => {
      const carol = await newUser(a.url, b.url, ip);
      for (let i = 0; i < RATE_LIMIT; i++) {
        const res = await api(a.url, 'GET', '/api/users/me', { token: carol.token });
        expect(res.status).toBe(200);
      }
      const res = await api(b.url, 'GET', '/api/users/me', { token: carol.token });
      expect(res.status).toBe(429);
      expect(res.body).toEqual({ detail: expect.stringMatching(/^Too many requests; retry in/) });
    });
  });
});
