import {
  AppProcess,
  appProcessesOnTestPostgres,
  ChatWsClient,
  connectChatSocket,
  describeWithServices,
  nextSocketEvent,
  openChatWs,
  postSse,
  recordSocketEvents,
  startAppProcess,
} from '@app/testing';
import { api, longMessage, newUser, settledMessages } from './multi-instance.helpers';

/**
 * SIGTERM while replies are streaming, on the built app as a child process: running streams get
 * SHUTDOWN_GRACE_MS to finish; after that they are aborted, every client gets its final event
 * and the partial replies are stored as `aborted`; the process then exits with code 0.
 */
describeWithServices(['postgres'], 'SIGTERM during streams (app process)', () => {
  const baseEnv = appProcessesOnTestPostgres({
    AI_SERVICES__LOCAL_DELAY_MS: '30',
    CHAT__HEARTBEAT_MS: '1000',
  });

  it('aborts streams still running after the grace period, stores them, exits 0', async () => {
    const app: AppProcess = await startAppProcess({ ...baseEnv(), SHUTDOWN_GRACE_MS: '300' });
    const wsClients: ChatWsClient[] = [];
    try {
      const user = await newUser(app.url);
      // An SSE stream, a Socket.IO stream and a plain WebSocket stream, plus an idle WebSocket.
      const sse = await postSse(
        app.url,
        '/api/chat/stream',
        { message: longMessage() },
        {
          token: user.token,
        },
      );
      const sseStart = await sse.waitFor('start');
      await sse.waitFor('delta');

      const socket = await connectChatSocket(app.url, user.token);
      const socketEvents = recordSocketEvents(socket);
      const ack = await socket
        .timeout(10_000)
        .emitWithAck('chat:send', { message: longMessage(), client_id: 'io' });
      expect(ack.ok).toBe(true);
      await nextSocketEvent(socket, 'chat:delta', (p) => p.session_id === ack.session_id);
      const socketDone = nextSocketEvent(socket, 'chat:done', (p) => p.client_id === 'io', 20_000);

      const ws = await openChatWs(app.url, user.token);
      wsClients.push(ws, await openChatWs(app.url, user.token));
      ws.send({ message: longMessage(), client_id: 'ws' });
      const wsStart = await ws.next((f) => f.type === 'start');
      await ws.next((f) => f.type === 'delta');
      const wsDone = ws.next((f) => f.type === 'done' || f.type === 'error', 20_000);

      const stopping = Date.now();
      const exit = await app.stop('SIGTERM', 20_000);
      expect(exit).toEqual({ code: 0, signal: null });
      // Grace (300 ms) plus closing: nowhere near a hang.
      expect(Date.now() - stopping).toBeLessThan(10_000);

      const sseEvents = await sse.finished;
      expect(sseEvents.at(-1)).toEqual(
        expect.objectContaining({
          event: 'done',
          data: expect.objectContaining({ finish_reason: 'aborted' }),
        }),
      );
      expect(await socketDone).toEqual(expect.objectContaining({ finish_reason: 'aborted' }));
      expect(await wsDone).toEqual(
        expect.objectContaining({ type: 'done', finish_reason: 'aborted' }),
      );
      socket.close();

      // A new process on the same database shows what was stored.
      const next = await startAppProcess({ ...baseEnv(), DATABASE_RUN_MIGRATIONS: 'false' });
      try {
        const streamed = (events: { text: string }[]) => events.map((e) => e.text).join('');
        const cases = [
          {
            sessionId: sseStart.data.session_id,
            text: streamed(sseEvents.filter((e) => e.event === 'delta').map((e) => e.data)),
          },
          {
            sessionId: ack.session_id,
            text: streamed(
              socketEvents.filter((e) => e.event === 'chat:delta').map((e) => e.payload),
            ),
          },
          {
            sessionId: wsStart.session_id,
            text: streamed(ws.frames.filter((f) => f.type === 'delta')),
          },
        ];
        for (const { sessionId, text } of cases) {
          const messages = await settledMessages(next.url, user.token, sessionId);
          expect(messages.map((m) => [m.role, m.status])).toEqual([
            ['user', 'complete'],
            ['assistant', 'aborted'],
          ]);
          expect(text.length).toBeGreaterThan(0);
          expect(messages[1].content).toBe(text);
        }
        expect(await next.stop()).toEqual({ code: 0, signal: null });
      } finally {
        await next.kill();
      }
    } finally {
      for (const client of wsClients) client.ws.terminate();
      await app.kill();
    }
  }, 90_000);

  it('lets a stream that ends within SHUTDOWN_GRACE_MS complete, then exits 0 at once', async () => {
    const app = await startAppProcess({ ...baseEnv(), SHUTDOWN_GRACE_MS: '15000' });
    try {
      const user = await newUser(app.url);
      // About 40 words × 30 ms: a little over a second of streaming.
      const sse = await postSse(
        app.url,
        '/api/chat/stream',
        { message: longMessage(20) },
        {
          token: user.token,
        },
      );
      const start = await sse.waitFor('start');
      const stopping = Date.now();
      const exit = await app.stop('SIGTERM', 25_000);
      expect(exit).toEqual({ code: 0, signal: null });
      // It waited for the stream, not for the whole grace period.
      expect(Date.now() - stopping).toBeLessThan(10_000);
      const events = await sse.finished;
      expect(events.at(-1)).toEqual(
        expect.objectContaining({
          event: 'done',
          data: expect.objectContaining({ finish_reason: 'stop' }),
        }),
      );

      const next = await startAppProcess({ ...baseEnv(), DATABASE_RUN_MIGRATIONS: 'false' });
      try {
        const messages = await settledMessages(next.url, user.token, start.data.session_id);
        expect(messages[1].status).toBe('complete');
        expect(messages[1].content).toBe(
          events
            .filter((e) => e.event === 'delta')
            .map((e) => e.data.text)
            .join(''),
        );
        // Nothing is left pending anywhere.
        const history = await api(next.url, 'GET', '/api/history', { token: user.token });
        expect(history.body.total).toBe(1);
        await next.stop();
      } finally {
        await next.kill();
      }
    } finally {
      await app.kill();
    }
  }, 90_000);
});
