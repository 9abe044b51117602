/* eslint-disable @typescript-eslint/no-explicit-any -- socket payloads are parsed JSON handed to assertions */
import request from 'supertest';
import type { Socket } from 'socket.io-client';
import {
  ChatClients,
  describeE2e,
  getSse,
  LoggedInUser,
  postSse,
  describeWithServices,
  registerAndLogin,
  serviceUrl,
  settledMessages,
  SseEvent,
  SecondInstance,
  startSecondInstance,
  startTestApp,
  TestApp,
} from '@app/testing';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const LONG = Array.from({ length: 150 }, (_, i) => `word${i}`).join(' ');
const RESUME_WINDOW_MS = 1_500;
const RESUME_TTL_SECONDS = 2;
const UNKNOWN_ID = '00000000-0000-4000-8000-000000000000';

type Payload = Record<string, any>;

/** Waits until `check` holds, polling every 20 ms (at most `timeoutMs`). */
async function until(check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(20);
  }
}

/** The sequence numbers are 1…n, or `from`…n: no gap, no duplicate. */
function expectContiguous(seqs: number[], from: number): void {
  expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => from + i));
}

/** Every event `socket` receives from now on that `keep` accepts, as `{event, ...payload}`. */
function recordEvents(socket: Socket, keep: (payload: Payload) => boolean = () => true): Payload[] {
  const events: Payload[] = [];
  socket.onAny((event: string, payload: Payload) => {
    if (keep(payload)) events.push({ event, ...payload });
  });
  return events;
}

/** Sends `message` on `socket`, disconnects once `deltas` deltas came; returns what it saw. */
async function sendAndDisconnect(
  socket: Socket,
  message: string,
  clientId: string,
  deltas: number,
) {
  const seen = recordEvents(socket);
  const ack = await socket
    .timeout(10_000)
    .emitWithAck('chat:send', { message, client_id: clientId });
  await until(() => seen.filter((e) => e.event === 'chat:delta').length >= deltas);
  socket.disconnect();
  return { ack, seen, lastSeq: seen.at(-1)!.seq as number };
}

/**
 * Sends chat:resume on `socket`; returns its ack and the resume's own events. Until it resumes,
 * a socket in the user's room may also get the reply's broadcast, which carries the sender's
 * client_id; the resume's own events have none.
 */
async function resumeOnSocket(socket: Socket, messageId: string, after: number) {
  const rest = recordEvents(socket, (payload) => payload.client_id === undefined);
  const resumed = await socket
    .timeout(10_000)
    .emitWithAck('chat:resume', { message_id: messageId, after });
  return { resumed, rest };
}

/** The reply text in recorded Socket.IO events. */
const socketDeltaText = (events: Payload[]) =>
  events
    .filter((e) => e.event === 'chat:delta')
    .map((e) => e.text)
    .join('');

const deltaText = (events: SseEvent[]) =>
  events
    .filter((e) => e.event === 'delta')
    .map((e) => e.data.text)
    .join('');

describeE2e('resumable replies', () => {
  let t: TestApp;
  let alice: LoggedInUser;
  let bob: LoggedInUser;
  const clients = new ChatClients(() => t.url);

  beforeAll(async () => {
    t = await startTestApp({
      AI_SERVICES__LOCAL_DELAY_MS: '10',
      CHAT__RESUME_WINDOW_MS: String(RESUME_WINDOW_MS),
      CHAT__RESUME_TTL_SECONDS: String(RESUME_TTL_SECONDS),
      CHAT__CHECKPOINT_MS: '50',
      SHUTDOWN_GRACE_MS: '0',
    });
    alice = await registerAndLogin(t.url);
    bob = await registerAndLogin(t.url);
  });
  afterEach(() => clients.closeAll());
  afterAll(() => t.close());

  /** Starts an SSE reply of alice's to `message`. */
  const streamAsAlice = (message: string) =>
    postSse(t.url, '/api/chat/stream', { message }, { token: alice.token });

  /** Starts a long SSE reply and disconnects after a few deltas; returns what it saw. */
  async function startAndDrop() {
    const first = await streamAsAlice(LONG);
    expect(first.status).toBe(200);
    const start = await first.waitFor('start');
    await until(() => first.events.filter((e) => e.event === 'delta').length >= 5);
    first.close();
    const seen = [...first.events];
    return {
      seen,
      messageId: start.data.message_id as string,
      sessionId: start.data.session_id as string,
      lastId: Number(seen.at(-1)!.id),
    };
  }

  describe('SSE', () => {
    it('resumes with Last-Event-ID: the missed events, then the live rest, no gap, no duplicate', async () => {
      const { seen, messageId, sessionId, lastId } = await startAndDrop();
      await sleep(100);
      const resumed = await getSse(t.url, `/api/chat/stream/${messageId}`, {
        token: alice.token,
        headers: { 'Last-Event-ID': String(lastId) },
      });
      expect(resumed.status).toBe(200);
      const rest = await resumed.finished;

      expectContiguous(
        [...seen, ...rest].map((e) => Number(e.id)),
        1,
      );
      expect(rest.at(-1)).toEqual(
        expect.objectContaining({
          event: 'done',
          data: expect.objectContaining({ finish_reason: 'stop' }),
        }),
      );
      const messages = await settledMessages(t, alice.token, sessionId);
      expect(messages[1]).toEqual(expect.objectContaining({ status: 'complete' }));
      expect(deltaText(seen) + deltaText(rest)).toBe(messages[1].content);
    });

    it('replays a finished reply within the TTL from ?after=N, then 404 after the TTL', async () => {
      const stream = await streamAsAlice('a b c d');
      const all = await stream.finished;
      const messageId = all[0].data.message_id;

      const full = await getSse(t.url, `/api/chat/stream/${messageId}?after=0`, {
        token: alice.token,
      });
      expect(await full.finished).toEqual(all);
      const tail = await getSse(t.url, `/api/chat/stream/${messageId}?after=2`, {
        token: alice.token,
      });
      expect(await tail.finished).toEqual(all.slice(2));

      await sleep(RESUME_TTL_SECONDS * 1000 + 300);
      const expired = await request(t.url)
        .get(`/api/chat/stream/${messageId}`)
        .set('Authorization', `Bearer ${alice.token}`)
        .expect(404);
      expect(expired.body.detail).toMatch(/No resumable reply/);
    });

    it('an Idempotency-Key replay is numbered like the original: resuming from its reply event adds no text', async () => {
      const key = `replay-${Date.now()}`;
      const send = () =>
        postSse(
          t.url,
          '/api/chat/stream',
          { message: 'one two three four five' },
          { token: alice.token, headers: { 'Idempotency-Key': key } },
        );
      const original = await (await send()).finished;
      const replay = await (await send()).finished;

      expect(replay.map((e) => [e.event, Number(e.id)])).toEqual([
        ['start', 1],
        ['delta', Number(original.at(-1)!.id) - 1],
        ['done', Number(original.at(-1)!.id)],
      ]);
      expect(deltaText(replay)).toBe(deltaText(original));
      const messageId = replay[0].data.message_id as string;
      const afterReply = await getSse(t.url, `/api/chat/stream/${messageId}`, {
        token: alice.token,
        headers: { 'Last-Event-ID': replay[1].id! },
      });
      expect((await afterReply.finished).map((e) => e.event)).toEqual(['done']);
    });

    it("answers 404 for an unknown or another user's message and 400 for a bad position", async () => {
      const stream = await streamAsAlice('mine');
      const messageId = (await stream.finished)[0].data.message_id;
      for (const [token, id] of [
        [bob.token, messageId],
        [alice.token, UNKNOWN_ID],
        [alice.token, 'not-an-id'],
      ]) {
        const res = await request(t.url)
          .get(`/api/chat/stream/${id}`)
          .set('Authorization', `Bearer ${token}`)
          .expect(404);
        expect(res.body.detail).toMatch(/No resumable reply/);
      }
      for (const after of ['-1', 'abc', '1.5', '99999999999']) {
        const res = await request(t.url)
          .get(`/api/chat/stream/${messageId}?after=${after}`)
          .set('Authorization', `Bearer ${alice.token}`)
          .expect(400);
        expect(res.body.detail).toMatch(/after must be a whole number/);
      }
      const res = await request(t.url)
        .get(`/api/chat/stream/${messageId}`)
        .set('Authorization', `Bearer ${alice.token}`)
        .set('Last-Event-ID', 'x')
        .expect(400);
      expect(res.body.detail).toMatch(/Last-Event-ID must be a whole number/);
      await request(t.url).get(`/api/chat/stream/${messageId}`).expect(401);
    });
  });

  describe('disconnect window', () => {
    it('keeps a left reply running and resumable, visible as pending with its text so far', async () => {
      const { messageId, sessionId } = await startAndDrop();
      await sleep(300);
      const res = await request(t.url)
        .get(`/api/history/${sessionId}`)
        .set('Authorization', `Bearer ${alice.token}`)
        .expect(200);
      const reply = res.body.messages[1];
      expect(reply).toEqual(
        expect.objectContaining({ id: messageId, status: 'pending', resumable: true }),
      );
      expect(reply.content.length).toBeGreaterThan(0);

      // A resume within the window keeps it going to the end.
      const resumed = await getSse(t.url, `/api/chat/stream/${messageId}`, { token: alice.token });
      const all = await resumed.finished;
      expect(all.at(-1)!.data.finish_reason).toBe('stop');
      const messages = await settledMessages(t, alice.token, sessionId);
      expect(messages[1].status).toBe('complete');
      expect(messages[1].content).toBe(deltaText(all));
      expect(messages[1].content.startsWith(reply.content)).toBe(true);
      expect(messages[1].resumable).toBeUndefined();
    });

    it('aborts a reply nobody resumed once the window ran out, keeping its partial text', async () => {
      const slow = `${LONG} ${LONG} ${LONG}`;
      const first = await streamAsAlice(slow);
      const start = await first.waitFor('start');
      await until(() => first.events.length >= 3);
      first.close();
      const sessionId = start.data.session_id;
      await sleep(RESUME_WINDOW_MS / 2);
      const during = await request(t.url)
        .get(`/api/history/${sessionId}`)
        .set('Authorization', `Bearer ${alice.token}`)
        .expect(200);
      expect(during.body.messages[1].status).toBe('pending');

      const messages = await settledMessages(t, alice.token, sessionId);
      expect(messages[1].status).toBe('aborted');
      expect(messages[1].content.length).toBeGreaterThan(0);
      expect(messages[1].content.length).toBeLessThan(slow.length);
    });
  });

  describe('Socket.IO', () => {
    it('chat:resume after a disconnect sends the rest once, in order', async () => {
      const tab = await clients.socket(alice);
      const { ack, seen, lastSeq } = await sendAndDisconnect(tab, LONG, 'c1', 5);

      const again = await clients.socket(alice);
      const { resumed, rest } = await resumeOnSocket(again, ack.message_id, lastSeq);
      expect(resumed).toEqual({ ok: true, message_id: ack.message_id });
      await until(() => rest.some((e) => e.event === 'chat:done'));
      await sleep(100);

      expectContiguous(
        [...seen, ...rest].map((e) => e.seq),
        1,
      );
      expect(rest.every((e) => e.session_id === ack.session_id)).toBe(true);
      const messages = await settledMessages(t, alice.token, ack.session_id);
      expect(socketDeltaText([...seen, ...rest])).toBe(messages[1].content);
    });

    it("answers chat:resume of another user's message with 404 and a bad after with 400", async () => {
      const stream = await streamAsAlice('mine');
      const messageId = (await stream.finished)[0].data.message_id;
      const socket = await clients.socket(bob);
      expect(
        await socket.timeout(10_000).emitWithAck('chat:resume', { message_id: messageId }),
      ).toEqual(expect.objectContaining({ ok: false, status: 404 }));
      expect(
        await socket
          .timeout(10_000)
          .emitWithAck('chat:resume', { message_id: messageId, after: -1 }),
      ).toEqual(expect.objectContaining({ ok: false, status: 400 }));
      const own = await clients.socket(alice);
      const replay = recordEvents(own);
      await own.timeout(10_000).emitWithAck('chat:resume', { message_id: messageId, after: 1 });
      await until(() => replay.some((e) => e.event === 'chat:done'));
      expect(replay[0]).toEqual(expect.objectContaining({ event: 'chat:delta', seq: 2 }));
    });
  });

  describe('WebSocket', () => {
    it('a resume frame after a reconnect sends the rest once, in order', async () => {
      const first = await clients.ws(alice);
      first.send({ message: LONG });
      const start = await first.next((f) => f.type === 'start');
      await until(() => first.frames.filter((f) => f.type === 'delta').length >= 5);
      await first.close();
      const seen = [...first.frames];

      const again = await clients.ws(alice);
      again.send({ type: 'resume', message_id: start.message_id, after: seen.at(-1).seq });
      await again.next((f) => f.type === 'done');
      const rest = again.frames;

      expectContiguous(
        [...seen, ...rest].map((f) => f.seq),
        1,
      );
      const text = [...seen, ...rest]
        .filter((f) => f.type === 'delta')
        .map((f) => f.text)
        .join('');
      const messages = await settledMessages(t, alice.token, start.session_id);
      expect(text).toBe(messages[1].content);
    });

    it("answers a resume of an unknown or another user's message with a 404 frame", async () => {
      const client = await clients.ws(bob);
      client.send({ type: 'resume', message_id: UNKNOWN_ID });
      expect(await client.next((f) => f.type === 'error')).toEqual(
        expect.objectContaining({ status: 404 }),
      );
      client.send({ type: 'resume', message_id: UNKNOWN_ID, after: 'x' });
      expect(await client.next((f) => f.type === 'error')).toEqual(
        expect.objectContaining({ status: 400 }),
      );
    });
  });

  describeWithServices(['redis'], 'across two instances (Redis)', () => {
    let a: TestApp;
    let b: SecondInstance;
    let user: LoggedInUser;

    beforeAll(async () => {
      const env = {
        REDIS_URL: serviceUrl('redis'),
        AI_SERVICES__LOCAL_DELAY_MS: '10',
        CHAT__RESUME_WINDOW_MS: '5000',
        SHUTDOWN_GRACE_MS: '0',
      };
      a = await startTestApp(env);
      b = await startSecondInstance(a, env);
      user = await registerAndLogin(a.url);
    });
    afterAll(async () => {
      await b?.app.close();
      await a?.close();
    });

    it('a reply started on A resumes on B: the rest once, in order', async () => {
      const first = await postSse(
        a.url,
        '/api/chat/stream',
        { message: LONG },
        { token: user.token },
      );
      const start = await first.waitFor('start');
      await until(() => first.events.filter((e) => e.event === 'delta').length >= 5);
      first.close();
      const seen = [...first.events];

      const resumed = await getSse(b.url, `/api/chat/stream/${start.data.message_id}`, {
        token: user.token,
        headers: { 'Last-Event-ID': seen.at(-1)!.id! },
      });
      const rest = await resumed.finished;
      expectContiguous(
        [...seen, ...rest].map((e) => Number(e.id)),
        1,
      );
      const res = await request(a.url)
        .get(`/api/history/${start.data.session_id}`)
        .set('Authorization', `Bearer ${user.token}`)
        .expect(200);
      expect(res.body.messages[1].status).toBe('complete');
      expect(deltaText(seen) + deltaText(rest)).toBe(res.body.messages[1].content);
    });

    it('Socket.IO: sent on A, resumed on B after a disconnect; an abort on B stops it on A', async () => {
      const onA = await clients.socket(user, a.url);
      const { ack, seen, lastSeq } = await sendAndDisconnect(onA, `${LONG} ${LONG}`, 'a1', 3);

      // B's socket is in the user's room too (see resumeOnSocket).
      const onB = await clients.socket(user, b.url);
      const { resumed, rest } = await resumeOnSocket(onB, ack.message_id, lastSeq);
      expect(resumed.ok).toBe(true);
      await until(() => rest.filter((e) => e.event === 'chat:delta').length >= 3);
      const abort = await request(b.url)
        .post(`/api/chat/${ack.session_id}/abort`)
        .set('Authorization', `Bearer ${user.token}`)
        .expect(202);
      expect(abort.body.running).toBe(true);
      await until(() => rest.some((e) => e.event === 'chat:done'));
      await sleep(100);

      expect(rest.at(-1)).toEqual(
        expect.objectContaining({ event: 'chat:done', finish_reason: 'aborted' }),
      );
      expectContiguous(
        [...seen, ...rest].map((e) => e.seq),
        1,
      );
      const messages = await settledMessages(a, user.token, ack.session_id);
      expect(messages[1].status).toBe('aborted');
      expect(socketDeltaText([...seen, ...rest])).toBe(messages[1].content);
    });
  });
});
