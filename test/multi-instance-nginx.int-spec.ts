/* eslint-disable @typescript-eslint/no-explicit-any -- parsed event payloads handed to assertions */
import { randomBytes } from 'node:crypto';
import { request as httpsRequest } from 'node:https';
import type { Socket } from 'socket.io-client';
import {
  announceSkip,
  AppProcess,
  canRunNginx,
  connectChatSocket,
  createTestDatabase,
  describeWithServices,
  ensureAppBuilt,
  killAllAppProcesses,
  nextSocketEvent,
  PrivateNginx,
  recordSocketEvents,
  serviceUrl,
  SseEvent,
  SseParser,
  startAppProcess,
  TestDatabase,
} from '@app/testing';
import { api, settledMessages } from './multi-instance.helpers';

/** Every request to nginx goes over TLS with its throw-away certificate. */
const insecure = { rejectUnauthorized: false };

/** Registers and logs in through nginx (HTTPS, certificate not verified). */
async function userThrough(baseUrl: string): Promise<{ token: string }> {
  const email = `nginx-${randomBytes(6).toString('hex')}@example.com`;
  const password = 'correct horse battery staple';
  const body = JSON.stringify({ email, password });
  const post = (path: string) => httpsJson(baseUrl, 'POST', path, body);
  const registered = await post('/api/auth/register');
  if (registered.status !== 201) throw new Error(`register: ${registered.status}`);
  const login = await post('/api/auth/login');
  if (login.status !== 200) throw new Error(`login: ${login.status}`);
  return { token: login.body.access_token };
}

function httpsJson(
  baseUrl: string,
  method: string,
  path: string,
  body?: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: any; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      new URL(path, baseUrl),
      {
        method,
        ...insecure,
        headers: { ...(body ? { 'Content-Type': 'application/json' } : {}), ...headers },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => {
          let parsed: unknown = text;
          try {
            parsed = JSON.parse(text);
          } catch {
            // keep text
          }
          resolve({ status: res.statusCode ?? 0, body: parsed, headers: res.headers });
        });
      },
    );
    req.setTimeout(20_000, () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(body);
  });
}

/** POST /api/chat/stream over HTTPS, recording when each event arrived. */
function streamThrough(
  baseUrl: string,
  token: string,
  message: string,
): Promise<{ status: number; events: (SseEvent & { at: number })[] }> {
  return new Promise((resolve, reject) => {
    const events: (SseEvent & { at: number })[] = [];
    const parser = new SseParser((event) => events.push({ ...event, at: Date.now() }));
    const req = httpsRequest(
      new URL('/api/chat/stream', baseUrl),
      {
        method: 'POST',
        ...insecure,
        headers: {
          'Content-Type': 'application/json',
          Accept: 'text/event-stream',
          Authorization: `Bearer ${token}`,
        },
      },
      (res) => {
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => parser.feed(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, events }));
      },
    );
    req.setTimeout(30_000, () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(JSON.stringify({ message }));
  });
}

const nginxPrerequisites = canRunNginx();

/**
 * The documented multi-core layout, for real: Debian's nginx running deploy/nginx.conf (ports,
 * certificate and upstream servers adapted) in front of two processes of the built app sharing
 * Postgres and Redis. Socket.IO must connect and stream through it with long-polling first
 * (sticky `ip_hash`) and then the WebSocket upgrade, and SSE must not be buffered.
 */
describeWithServices(
  ['postgres', 'redis'],
  'nginx (deploy/nginx.conf) in front of two app processes',
  () => {
    let database: TestDatabase;
    let a: AppProcess;
    let b: AppProcess;
    let nginx: PrivateNginx | undefined;
    const sockets: Socket[] = [];

    if (!nginxPrerequisites.ok) {
      if (process.env.CI === 'true') {
        it('needs nginx', () => {
          throw new Error(`CI run without nginx: ${nginxPrerequisites.reason}`);
        });
      } else {
        announceSkip({
          name: 'nginx suite',
          reason: nginxPrerequisites.reason ?? 'cannot run nginx',
        });
        it.skip('needs nginx', () => undefined);
      }
      return;
    }

    beforeAll(async () => {
      await ensureAppBuilt();
      database = await createTestDatabase('postgres');
      const env = {
        DATABASE_URL: database.url,
        REDIS_URL: serviceUrl('redis'),
        SECRET_KEY: randomBytes(32).toString('hex'),
        TRUST_PROXY: '1',
        // Every client here is 127.0.0.1 as nginx reports it; other suites share the Redis counters.
        RATE_LIMIT__AUTH_PER_MINUTE: '1000',
        AI_SERVICES__LOCAL_DELAY_MS: '30',
        SHUTDOWN_GRACE_MS: '0',
      };
      a = await startAppProcess(env);
      b = await startAppProcess({ ...env, DATABASE_RUN_MIGRATIONS: 'false' });
      nginx = await PrivateNginx.fromDeployConfig({ upstreamPorts: [a.port, b.port] });
    }, 300_000);

    afterEach(() => {
      for (const socket of sockets.splice(0)) socket.close();
    });

    afterAll(async () => {
      try {
        await nginx?.stop();
        await Promise.all([a?.stop(), b?.stop()]);
      } finally {
        await killAllAppProcesses();
        await database?.drop();
      }
    }, 60_000);

    it('redirects plain HTTP to HTTPS and proxies the API over TLS', async () => {
      const res = await fetch(`${nginx!.httpUrl}/api/models`, { redirect: 'manual' });
      expect(res.status).toBe(301);
      expect(res.headers.get('location')).toMatch(/^https:\/\/127\.0\.0\.1(:\d+)?\/api\/models$/);
      const live = await httpsJson(nginx!.httpsUrl, 'GET', '/health/live');
      expect(live.status).toBe(200);
      expect(live.headers['strict-transport-security']).toMatch(/max-age=/);
      // Metrics are per process and never served at the edge.
      expect((await httpsJson(nginx!.httpsUrl, 'GET', '/metrics')).status).toBe(404);
    });

    it('a Socket.IO client (polling, then WebSocket upgrade) connects and streams a reply', async () => {
      const { token } = await userThrough(nginx!.httpsUrl);
      const socket = await connectChatSocket(nginx!.httpsUrl, token, 'auth', {
        transports: ['polling', 'websocket'],
        ...insecure,
      });
      sockets.push(socket);
      // The session starts on long-polling; the upgrade goes through nginx's Upgrade headers.
      const upgraded = new Promise<string>((resolve) => {
        if (socket.io.engine.transport.name === 'websocket') resolve('websocket');
        socket.io.engine.once('upgrade', (transport: { name: string }) => resolve(transport.name));
      });
      const events = recordSocketEvents(socket);
      const done = nextSocketEvent(socket, 'chat:done', (p) => p.client_id === 'via-nginx', 20_000);
      const ack = await socket
        .timeout(10_000)
        .emitWithAck('chat:send', { message: 'hello through nginx', client_id: 'via-nginx' });
      expect(ack.ok).toBe(true);
      expect(await done).toEqual(
        expect.objectContaining({ message_id: ack.message_id, finish_reason: 'stop' }),
      );
      expect(await upgraded).toBe('websocket');
      const deltas = events.filter((e) => e.event === 'chat:delta').map((e) => e.payload.text);
      expect(deltas.length).toBeGreaterThan(3);
      const messages = await settledMessages(a.url, token, ack.session_id);
      expect(messages[1].content).toBe(deltas.join(''));
    });

    it('a long-polling-only Socket.IO client streams a whole reply (sticky upstream)', async () => {
      const { token } = await userThrough(nginx!.httpsUrl);
      const socket = await connectChatSocket(nginx!.httpsUrl, token, 'auth', {
        transports: ['polling'],
        upgrade: false,
        ...insecure,
      });
      sockets.push(socket);
      expect(socket.io.engine.transport.name).toBe('polling');
      const events = recordSocketEvents(socket);
      const done = nextSocketEvent(socket, 'chat:done', (p) => p.client_id === 'poll', 20_000);
      const ack = await socket
        .timeout(10_000)
        .emitWithAck('chat:send', { message: 'hello over long-polling', client_id: 'poll' });
      expect(ack.ok).toBe(true);
      await done;
      const deltas = events.filter((e) => e.event === 'chat:delta');
      expect(deltas.length).toBeGreaterThan(3);
      expect(socket.connected).toBe(true);
    });

    it('SSE is not buffered: deltas arrive while the reply is still being generated', async () => {
      const { token } = await userThrough(nginx!.httpsUrl);
      // ≈ 40 words × 30 ms.
      const words = Array.from({ length: 20 }, (_, i) => `w${i}`).join(' ');
      const { status, events } = await streamThrough(nginx!.httpsUrl, token, words);
      expect(status).toBe(200);
      const firstDelta = events.find((e) => e.event === 'delta')!;
      const done = events.at(-1)!;
      expect(done.event).toBe('done');
      // A buffering proxy would deliver everything at once, at the end.
      expect(done.at - firstDelta.at).toBeGreaterThan(500);
    });

    it('without ip_hash (round robin) long-polling breaks: why the config is sticky', async () => {
      const roundRobin = await PrivateNginx.fromDeployConfig({
        upstreamPorts: [a.port, b.port],
        withoutIpHash: true,
        workerProcesses: 1,
      });
      try {
        const { token } = await userThrough(roundRobin.httpsUrl);
        // Handshake on one process, the next poll on the other: 400 "Session ID unknown".
        const error = await connectChatSocket(roundRobin.httpsUrl, token, 'auth', {
          transports: ['polling'],
          upgrade: false,
          ...insecure,
        }).then(
          (socket) => {
            sockets.push(socket);
            return undefined;
          },
          (e: Error & { description?: unknown }) => e,
        );
        expect(error).toEqual(
          expect.objectContaining({
            message: expect.stringMatching(/^xhr (poll|post) error$/),
            description: 400,
          }),
        );
      } finally {
        await roundRobin.stop();
      }
      // The sticky balancer in front is unaffected.
      expect((await api(a.url, 'GET', '/health/ready')).status).toBe(200);
    });
  },
);
