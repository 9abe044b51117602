import { randomUUID } from 'node:crypto';
import { sign } from 'jsonwebtoken';
import request from 'supertest';
import type { Socket } from 'socket.io-client';
import {
  ChatClients,
  connectChatSocket,
  describeE2e,
  LoggedInUser,
  nextSocketEvent,
  openChatWs,
  recordSocketEvents,
  registerAndLogin,
  settledMessages,
  startTestApp,
  TestApp,
} from '@app/testing';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const LONG = Array.from({ length: 300 }, (_, i) => `word${i}`).join(' ');

type Ack = { ok: boolean; [key: string]: unknown };
const send = (socket: Socket, event: string, payload: unknown): Promise<Ack> =>
  socket.timeout(10_000).emitWithAck(event, payload);

describeE2e('chat over Socket.IO and WebSocket', () => {
  let t: TestApp;
  let alice: LoggedInUser;
  let bob: LoggedInUser;
  let bobSession: string;
  const clients = new ChatClients(() => t.url);

  beforeAll(async () => {
    t = await startTestApp({
      AI_SERVICES__LOCAL_DELAY_MS: '10',
      CHAT__MAX_MESSAGE_CHARS: '4000',
      SHUTDOWN_GRACE_MS: '0',
    });
    alice = await registerAndLogin(t.url);
    bob = await registerAndLogin(t.url);
    const res = await request(t.url)
      .post('/api/chat')
      .set('Authorization', `Bearer ${bob.token}`)
      .send({ message: 'bob only' })
      .expect(200);
    bobSession = res.body.session_id;
  });
  afterEach(() => clients.closeAll());
  afterAll(() => t.close());

  describe('Socket.IO handshake', () => {
    it.each(['auth', 'header', 'query'] as const)('accepts the token via %s', async (placement) => {
      const socket = await clients.socket(alice, t.url, placement);
      expect(socket.connected).toBe(true);
    });

    it('refuses a missing, malformed or expired token with connect_error "unauthorized"', async () => {
      const now = Math.floor(Date.now() / 1000);
      const expired = sign(
        { sub: alice.id, jti: randomUUID(), iat: now - 120, exp: now - 60 },
        t.config.security.jwtSecret,
        {
          algorithm: 'HS256',
          issuer: t.config.security.jwtIssuer,
          audience: t.config.security.jwtAudience,
        },
      );
      for (const token of [undefined, 'not-a-jwt', expired]) {
        await expect(connectChatSocket(t.url, token)).rejects.toThrow('unauthorized');
      }
    });
  });

  describe('Socket.IO chat', () => {
    it('acks chat:send and streams start, deltas and done to every socket of the user', async () => {
      const tab1 = await clients.socket(alice);
      const tab2 = await clients.socket(alice);
      const other = await clients.socket(bob);
      const seen1 = recordSocketEvents(tab1);
      const seen2 = recordSocketEvents(tab2);
      const seenByBob = recordSocketEvents(other);

      const done2 = nextSocketEvent(tab2, 'chat:done', (p) => p.client_id === 'c1');
      const ack = await send(tab1, 'chat:send', { message: 'hello sockets', client_id: 'c1' });
      expect(ack).toEqual({
        ok: true,
        session_id: expect.any(String),
        message_id: expect.any(String),
      });
      const done = await done2;
      await sleep(50);

      expect(done).toEqual({
        message_id: ack.message_id,
        usage: expect.objectContaining({ tokens: expect.any(Number) }),
        finish_reason: 'stop',
        model: 'local/echo',
        session_id: ack.session_id,
        client_id: 'c1',
        seq: expect.any(Number),
      });
      for (const seen of [seen1, seen2]) {
        const names = seen.map((e) => e.event);
        expect(names[0]).toBe('chat:start');
        expect(names.at(-1)).toBe('chat:done');
        expect(seen[0].payload).toEqual({
          session_id: ack.session_id,
          message_id: ack.message_id,
          model: 'local/echo',
          client_id: 'c1',
          seq: 1,
        });
        const deltas = seen.filter((e) => e.event === 'chat:delta');
        expect(deltas.length).toBeGreaterThan(3);
        expect(deltas.every((e) => e.payload.session_id === ack.session_id)).toBe(true);
        const text = deltas.map((e) => e.payload.text).join('');
        const messages = await settledMessages(t, alice.token, ack.session_id as string);
        expect(messages[1].content).toBe(text);
      }
      expect(seenByBob).toEqual([]);
    });

    it.each([
      ['a missing message', { session_id: null }, 400],
      ['a message over CHAT__MAX_MESSAGE_CHARS', { message: 'x'.repeat(4001) }, 400],
      ['a wrong type', { message: 'hi', max_tokens: '10' }, 400],
      ['an unknown field', { message: 'hi', extra: 1 }, 400],
      ['a non-object payload', 'hello', 400],
      ['an unknown session', { message: 'hi', session_id: randomUUID() }, 404],
    ])(
      'answers %s with ack ok:false and chat:error, never a 500',
      async (_case, payload, status) => {
        const socket = await clients.socket(alice);
        const error = nextSocketEvent(socket, 'chat:error');
        const ack = await send(socket, 'chat:send', payload);
        expect(ack).toEqual(
          expect.objectContaining({ ok: false, status, detail: expect.any(String) }),
        );
        expect(await error).toEqual(expect.objectContaining({ status, detail: ack.detail }));
        expect(ack.detail).not.toBe('Internal server error');
      },
    );

    it("answers 404 for another user's session on chat:send and chat:abort", async () => {
      const socket = await clients.socket(alice);
      const ack = await send(socket, 'chat:send', { message: 'hi', session_id: bobSession });
      expect(ack).toEqual({ ok: false, detail: 'Session not found', status: 404 });
      const abort = await send(socket, 'chat:abort', { session_id: bobSession });
      expect(abort).toEqual({ ok: false, detail: 'Session not found', status: 404 });
      const messages = await settledMessages(t, bob.token, bobSession);
      expect(messages).toHaveLength(2);
    });

    it('stops a reply with chat:abort and stores the partial text', async () => {
      const socket = await clients.socket(alice);
      const firstDelta = nextSocketEvent(socket, 'chat:delta');
      const done = nextSocketEvent(socket, 'chat:done');
      const ack = await send(socket, 'chat:send', { message: LONG });
      await firstDelta;
      const abort = await send(socket, 'chat:abort', { session_id: ack.session_id });
      expect(abort).toEqual({ ok: true, session_id: ack.session_id, running: true });
      expect((await done).finish_reason).toBe('aborted');
      const messages = await settledMessages(t, alice.token, ack.session_id as string);
      expect(messages[1].status).toBe('aborted');
      expect(messages[1].content).not.toContain('word299');
    });

    it('aborts the running reply when the socket disconnects', async () => {
      const socket = await clients.socket(alice);
      const firstDelta = nextSocketEvent(socket, 'chat:delta');
      const ack = await send(socket, 'chat:send', { message: LONG });
      await firstDelta;
      socket.disconnect();
      const messages = await settledMessages(t, alice.token, ack.session_id as string);
      expect(messages[1].status).toBe('aborted');
      expect(messages[1].content.length).toBeGreaterThan(0);
    });
  });

  describe('plain WebSocket', () => {
    it('refuses a missing or bad token with HTTP 401 before the upgrade', async () => {
      for (const token of [undefined, 'bad-token']) {
        await expect(openChatWs(t.url, token)).rejects.toMatchObject({
          status: 401,
          body: { detail: expect.any(String) },
        });
      }
    });

    it('streams start, deltas and done as JSON frames', async () => {
      const client = await clients.ws(alice);
      client.send({ message: 'hello ws', client_id: 'w1' });
      const start = await client.next((f) => f.type === 'start');
      expect(start).toEqual({
        type: 'start',
        session_id: expect.any(String),
        message_id: expect.any(String),
        model: 'local/echo',
        client_id: 'w1',
        seq: 1,
      });
      const done = await client.next((f) => f.type === 'done');
      expect(done).toEqual(
        expect.objectContaining({ message_id: start.message_id, finish_reason: 'stop' }),
      );
      const text = client.frames
        .filter((f) => f.type === 'delta')
        .map((f) => f.text)
        .join('');
      const messages = await settledMessages(t, alice.token, start.session_id);
      expect(messages[1].content).toBe(text);

      // Continue the same session over the same connection.
      client.send({ type: 'message', message: 'again', session_id: start.session_id });
      const second = await client.next(
        (f) => f.type === 'done' && f.message_id !== start.message_id,
      );
      expect(second.session_id).toBe(start.session_id);
    });

    it('answers bad frames with an error frame and keeps the connection open', async () => {
      const client = await clients.ws(alice);
      client.send('{not json');
      expect(await client.next((f) => f.type === 'error')).toEqual({
        type: 'error',
        detail: 'Malformed JSON frame',
        status: 400,
      });
      for (const [frame, status] of [
        [{ session_id: null }, 400],
        [{ message: 'x'.repeat(4001) }, 400],
        [{ message: 5 }, 400],
        [{ message: 'hi', nope: true }, 400],
        [{ type: 'dance' }, 400],
        [{ message: 'hi', session_id: bobSession }, 404],
        [{ type: 'abort', session_id: bobSession }, 404],
      ] as const) {
        client.send(frame);
        const error = await client.next((f) => f.type === 'error');
        expect(error).toEqual(expect.objectContaining({ status, detail: expect.any(String) }));
      }
      expect(client.ws.readyState).toBe(client.ws.OPEN);
    });

    it('stops a reply on an abort frame and when the connection closes', async () => {
      const client = await clients.ws(alice);
      client.send({ message: LONG });
      const start = await client.next((f) => f.type === 'start');
      await client.next((f) => f.type === 'delta');
      client.send({ type: 'abort', session_id: start.session_id });
      expect(await client.next((f) => f.type === 'aborted')).toEqual({
        type: 'aborted',
        session_id: start.session_id,
        running: true,
      });
      const done = await client.next((f) => f.type === 'done');
      expect(done.finish_reason).toBe('aborted');

      client.send({ message: LONG, session_id: start.session_id });
      await client.next(
        (f) => f.type === 'delta' && client.frames.filter((x) => x.type === 'start').length === 2,
      );
      await client.close();
      const messages = await settledMessages(t, alice.token, start.session_id);
      expect(messages.map((m: { status: string }) => m.status)).toEqual([
        'complete',
        'aborted',
        'complete',
        'aborted',
      ]);
    });
  });
});
