import { randomBytes } from 'node:crypto';
import {
  AppProcess,
  connectChatSocket,
  describeWithPrivatePostgres,
  killAllAppProcesses,
  openChatWs,
  postSse,
  PrivatePostgres,
  startAppOnPrivatePostgres,
} from '@app/testing';
import { api, ApiResponse, ApiUser, eventually, newUser } from './multi-instance.helpers';

const UNAVAILABLE = { detail: 'Database unavailable' };
/** What must never reach a client while the database is down. */
const LEAKS = /select|insert|update|ECONN|postgres|5432|typeorm|QueryFailed|stack|at \w+ \(/i;

function expectUnavailable(res: ApiResponse): void {
  expect(res.status).toBe(503);
  expect(res.body).toEqual(UNAVAILABLE);
  expect(res.headers.get('retry-after')).toBe('5');
  expect(res.text).not.toMatch(LEAKS);
}

/**
 * PostgreSQL stops under a running app process and comes back. The cluster is a private one
 * (initdb in a temp dir, its own port), so the shared test server is never stopped.
 * While it is down: every route that needs it answers 503 {"detail": "Database unavailable"}
 * with Retry-After (never a 500, never SQL or driver text), readiness is 503, liveness 200 and
 * the process stays up. Once it is back the same process serves again, without a restart.
 */
describeWithPrivatePostgres('PostgreSQL stopped under a running app process', () => {
  let pg: PrivatePostgres;
  let app: AppProcess;
  let alice: ApiUser;
  const password = 'correct horse battery staple';

  beforeAll(async () => {
    ({ pg, app } = await startAppOnPrivatePostgres({ AI_SERVICES__LOCAL_DELAY_MS: '5' }));
    alice = await newUser(app.url);
  }, 300_000);

  afterAll(async () => {
    try {
      if (app?.running) expect(await app.stop()).toEqual({ code: 0, signal: null });
    } finally {
      await killAllAppProcesses();
      await pg?.destroy();
    }
  }, 60_000);

  it('serves normally before the outage', async () => {
    const res = await api(app.url, 'POST', '/api/chat', {
      token: alice.token,
      body: { message: 'hello', max_tokens: 5 },
    });
    expect(res.status).toBe(200);
    expect((await api(app.url, 'GET', '/health/ready')).status).toBe(200);
  });

  describe('while PostgreSQL is stopped', () => {
    beforeAll(async () => {
      await pg.stop('fast');
    }, 60_000);

    it('liveness 200, readiness 503 with {detail}', async () => {
      expect((await api(app.url, 'GET', '/health/live')).status).toBe(200);
      const ready = await api(app.url, 'GET', '/health/ready');
      expect(ready.status).toBe(503);
      expect(ready.body).toEqual(
        expect.objectContaining({
          detail: 'Not ready: database is down',
          error: { database: expect.objectContaining({ status: 'down' }) },
        }),
      );
    });

    it('authenticated, auth and chat routes answer 503 {"detail": "Database unavailable"}', async () => {
      const token = alice.token;
      expectUnavailable(await api(app.url, 'GET', '/api/users/me', { token }));
      expectUnavailable(await api(app.url, 'GET', '/api/history', { token }));
      expectUnavailable(
        await api(app.url, 'POST', '/api/auth/login', { body: { email: alice.email, password } }),
      );
      expectUnavailable(
        await api(app.url, 'POST', '/api/auth/register', {
          body: { email: `new-${randomBytes(4).toString('hex')}@example.com`, password },
        }),
      );
      expectUnavailable(
        await api(app.url, 'POST', '/api/chat', { token, body: { message: 'anyone there?' } }),
      );
      // The streaming endpoint fails before the stream starts: an ordinary JSON 503.
      const stream = await postSse(app.url, '/api/chat/stream', { message: 'hi' }, { token });
      expect(stream.status).toBe(503);
      expect(stream.json).toEqual(UNAVAILABLE);
    });

    it('socket handshakes are refused as unavailable, not as a bad token', async () => {
      const error = await connectChatSocket(app.url, alice.token).then(
        (socket) => {
          socket.close();
          return undefined;
        },
        (e: Error) => e,
      );
      expect(error?.message).toBe('unavailable');
      const ws = await openChatWs(app.url, alice.token).then(
        async (client) => {
          await client.close();
          return undefined;
        },
        (e: { status: number; body: unknown }) => e,
      );
      expect(ws).toEqual(expect.objectContaining({ status: 503, body: UNAVAILABLE }));
    });

    it('the process stays up and logs the outage as such, not as a bug', () => {
      expect(app.running).toBe(true);
      expect(app.logs()).toContain('Database unavailable');
      expect(app.logs()).not.toContain('Unhandled error');
    });
  });

  describe('once PostgreSQL is back', () => {
    beforeAll(async () => {
      await pg.resume();
    }, 60_000);

    it('the same process recovers without a restart', async () => {
      const pid = app.pid;
      await eventually('readiness 200', async () => {
        return (await api(app.url, 'GET', '/health/ready')).status === 200;
      });
      const me = await api(app.url, 'GET', '/api/users/me', { token: alice.token });
      expect(me.status).toBe(200);
      expect(me.body.email).toBe(alice.email);
      const login = await api(app.url, 'POST', '/api/auth/login', {
        body: { email: alice.email, password },
      });
      expect(login.status).toBe(200);
      const chat = await api(app.url, 'POST', '/api/chat', {
        token: login.body.access_token,
        body: { message: 'back again', max_tokens: 5 },
      });
      expect(chat.status).toBe(200);
      const history = await api(app.url, 'GET', '/api/history', { token: alice.token });
      expect(history.body.total).toBe(2);
      expect(app.pid).toBe(pid);
      expect(app.running).toBe(true);
    });
  });
});
