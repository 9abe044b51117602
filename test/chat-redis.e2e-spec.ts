import request from 'supertest';
import type { Socket } from 'socket.io-client';
import {
  connectChatSocket,
  describeE2e,
  describeWithServices,
  LoggedInUser,
  nextSocketEvent,
  postSse,
  registerAndLogin,
  serviceUrl,
  SecondInstance,
  startSecondInstance,
  startTestApp,
  TestApp,
} from '@app/testing';

const LONG = Array.from({ length: 300 }, (_, i) => `word${i}`).join(' ');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Two instances of the app sharing one database and one Redis, as behind a load balancer:
 * the session lock, abort requests, idempotency records and Socket.IO rooms span both.
 */
describeE2e('chat across two instances (Redis)', () => {
  describeWithServices(['redis'], 'shared state', () => {
    let a: TestApp;
    let b: SecondInstance;
    let user: LoggedInUser;
    const sockets: Socket[] = [];

    beforeAll(async () => {
      const env = {
        REDIS_URL: serviceUrl('redis'),
        AI_SERVICES__LOCAL_DELAY_MS: '10',
        SHUTDOWN_GRACE_MS: '0',
      };
      a = await startTestApp(env);
      b = await startSecondInstance(a, env);
      user = await registerAndLogin(a.url);
    });
    afterEach(() => {
      for (const socket of sockets.splice(0)) socket.close();
    });
    afterAll(async () => {
      await b.app.close();
      await a.close();
    });

    async function settled(sessionId: string) {
      for (let i = 0; i < 100; i++) {
        const res = await request(a.url)
          .get(`/api/history/${sessionId}`)
          .set('Authorization', `Bearer ${user.token}`)
          .expect(200);
        const last = res.body.messages.at(-1);
        if (last && last.status !== 'pending') return res.body.messages;
        await sleep(50);
      }
      throw new Error('reply still pending');
    }

    it('refuses a second generation of a session on the other instance (409)', async () => {
      const stream = await postSse(
        a.url,
        '/api/chat/stream',
        { message: LONG },
        {
          token: user.token,
        },
      );
      const start = await stream.waitFor('start');
      const res = await request(b.url)
        .post('/api/chat')
        .set('Authorization', `Bearer ${user.token}`)
        .send({ message: 'meanwhile', session_id: start.data.session_id })
        .expect(409);
      expect(res.body).toEqual({ detail: 'A reply is already being generated for this session' });

      // An abort sent to instance B stops the stream running on instance A.
      const abort = await request(b.url)
        .post(`/api/chat/${start.data.session_id}/abort`)
        .set('Authorization', `Bearer ${user.token}`)
        .expect(202);
      expect(abort.body).toEqual({ session_id: start.data.session_id, running: true });
      const events = await stream.finished;
      expect(events.at(-1)!.data.finish_reason).toBe('aborted');
      const messages = await settled(start.data.session_id);
      expect(messages[1].status).toBe('aborted');
    });

    it('replays an idempotent request sent to the other instance', async () => {
      const key = `cross-${Date.now()}`;
      const first = await request(a.url)
        .post('/api/chat')
        .set('Authorization', `Bearer ${user.token}`)
        .set('Idempotency-Key', key)
        .send({ message: 'once only' })
        .expect(200);
      const second = await request(b.url)
        .post('/api/chat')
        .set('Authorization', `Bearer ${user.token}`)
        .set('Idempotency-Key', key)
        .send({ message: 'once only' })
        .expect(200);
      expect(second.body).toEqual(first.body);
      expect(await settled(first.body.session_id)).toHaveLength(2);
    });

    it("delivers a reply to the user's sockets on both instances", async () => {
      const onA = await connectChatSocket(a.url, user.token);
      const onB = await connectChatSocket(b.url, user.token);
      sockets.push(onA, onB);
      const doneOnB = nextSocketEvent(onB, 'chat:done', (p) => p.client_id === 'x1');
      const ack = await onA.timeout(10_000).emitWithAck('chat:send', {
        message: 'hello both',
        client_id: 'x1',
      });
      expect(ack.ok).toBe(true);
      const done = await doneOnB;
      expect(done).toEqual(
        expect.objectContaining({ message_id: ack.message_id, session_id: ack.session_id }),
      );
    });
  });
});
