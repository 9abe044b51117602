import type { Socket } from 'socket.io-client';
import { ForbiddenError, NotFoundError, UnauthorizedError } from '@app/common';
import { connectChatSocket, nextSocketEvent, recordSocketEvents } from '@app/testing';
import {
  ScriptedTurn,
  socketIdentity,
  startSocketTransport,
  type SocketTransportUnderTest,
} from '../../test/factories/socket-chat.factory';
import { ChatGateway } from './chat.gateway';

/** The Socket.IO gateway over a real server and client; chat and token checks are mocked. */
describe(ChatGateway.name, () => {
  let sut: SocketTransportUnderTest;
  const sockets: Socket[] = [];
  const alice = socketIdentity({ email: 'alice@example.com' });

  beforeAll(async () => {
    sut = await startSocketTransport(ChatGateway, 'socketIo');
  });
  afterAll(() => sut.app.close());

  beforeEach(() => {
    jest.resetAllMocks();
    sut.authenticate.mockResolvedValue(alice);
  });
  afterEach(() => {
    for (const socket of sockets.splice(0)) socket.close();
  });

  const connect = async (token = 'token-of-alice') => {
    const socket = await connectChatSocket(sut.url, token);
    sockets.push(socket);
    return socket;
  };

  describe('handshake', () => {
    it('authenticates the handshake the client sent', async () => {
      await connect('the-token');
      expect(sut.authenticate).toHaveBeenCalledWith(
        expect.objectContaining({ auth: { token: 'the-token' } }),
      );
    });

    it.each([
      ['unauthorized', new UnauthorizedError('Invalid access token')],
      ['forbidden', new ForbiddenError('Account is disabled')],
      // A database outage is not a bad token: the client retries instead of logging out.
      [
        'unavailable',
        Object.assign(new Error('the database system is starting up'), { code: '57P03' }),
      ],
    ])('refuses with connect_error "%s"', async (reason, error) => {
      sut.authenticate.mockRejectedValue(error);
      await expect(connect()).rejects.toThrow(reason);
    });
  });

  describe('chat:send', () => {
    it("streams the turn's events to every socket of the user, with session_id, client_id and seq", async () => {
      const turn = new ScriptedTurn(['Hel', 'lo']);
      sut.chat.begin.mockResolvedValue(turn);
      const sender = await connect();
      const otherTab = await connect();
      const seen = recordSocketEvents(otherTab);
      const done = nextSocketEvent(otherTab, 'chat:done');

      const ack = await sender.emitWithAck('chat:send', { message: 'Hi', client_id: 'c-1' });
      expect(ack).toEqual({ ok: true, session_id: turn.sessionId, message_id: turn.messageId });
      await done;
      const extra = { session_id: turn.sessionId, client_id: 'c-1' };
      expect(seen).toEqual([
        {
          event: 'chat:start',
          payload: { message_id: turn.messageId, model: 'test/model', ...extra, seq: 1 },
        },
        { event: 'chat:delta', payload: { text: 'Hel', ...extra, seq: 2 } },
        { event: 'chat:delta', payload: { text: 'lo', ...extra, seq: 3 } },
        {
          event: 'chat:done',
          payload: expect.objectContaining({ finish_reason: 'stop', ...extra, seq: 4 }),
        },
      ]);
      // A token, not a personal API key: no key quota applies.
      expect(sut.chat.begin).toHaveBeenCalledWith(
        alice.user.id,
        expect.objectContaining({ message: 'Hi' }),
        { apiKey: undefined },
      );
    });

    it("does not reach another user's sockets", async () => {
      sut.chat.begin.mockResolvedValue(new ScriptedTurn());
      sut.authenticate.mockResolvedValueOnce(socketIdentity({ email: 'bob@example.com' }));
      const bob = await connect('token-of-bob');
      const seenByBob = recordSocketEvents(bob);
      const sender = await connect();
      const done = nextSocketEvent(sender, 'chat:done');
      await sender.emitWithAck('chat:send', { message: 'Hi' });
      await done;
      expect(seenByBob).toEqual([]);
    });

    it('answers an invalid payload with ack ok:false and a chat:error naming the client_id', async () => {
      const sender = await connect();
      const error = nextSocketEvent(sender, 'chat:error');
      const ack = await sender.emitWithAck('chat:send', { message: 42, client_id: 'c-2' });
      expect(ack).toEqual(expect.objectContaining({ ok: false, status: 400 }));
      expect(await error).toEqual({
        detail: ack.detail,
        errors: ack.errors,
        status: 400,
        client_id: 'c-2',
      });
      expect(sut.chat.begin).not.toHaveBeenCalled();
    });

    it('answers a failure before the reply starts with its status (404 for a foreign session)', async () => {
      sut.chat.begin.mockRejectedValue(new NotFoundError('Session not found'));
      const sender = await connect();
      const error = nextSocketEvent(sender, 'chat:error');
      const ack = await sender.emitWithAck('chat:send', {
        message: 'Hi',
        session_id: '6f1c1b5e-2f4b-4b8e-9a43-0c1d2e3f4a5b',
        client_id: 'c-3',
      });
      expect(ack).toEqual({ ok: false, detail: 'Session not found', status: 404 });
      expect(await error).toEqual({ detail: 'Session not found', status: 404, client_id: 'c-3' });
    });

    it('refuses events once the token has expired, asking to reconnect (401)', async () => {
      sut.authenticate.mockResolvedValue({
        ...alice,
        expiresAt: Math.floor(Date.now() / 1000) - 1,
      });
      const sender = await connect();
      const ack = await sender.emitWithAck('chat:send', { message: 'Hi' });
      expect(ack).toEqual({
        ok: false,
        detail: 'Access token has expired; reconnect with a new one',
        status: 401,
      });
      expect(sut.chat.begin).not.toHaveBeenCalled();
    });
  });

  describe('chat:abort and disconnect', () => {
    it('chat:abort stops the session and says whether a reply was running', async () => {
      sut.chat.abort.mockResolvedValue(true);
      const socket = await connect();
      const sessionId = '6f1c1b5e-2f4b-4b8e-9a43-0c1d2e3f4a5b';
      const ack = await socket.emitWithAck('chat:abort', { session_id: sessionId });
      expect(ack).toEqual({ ok: true, session_id: sessionId, running: true });
      expect(sut.chat.abort).toHaveBeenCalledWith(alice.user.id, sessionId);
    });

    it('chat:abort without a session id is a 400', async () => {
      const socket = await connect();
      const ack = await socket.emitWithAck('chat:abort', {});
      expect(ack).toEqual(expect.objectContaining({ ok: false, status: 400 }));
      expect(sut.chat.abort).not.toHaveBeenCalled();
    });

    it('a disconnect aborts the replies that socket started', async () => {
      const turn = new ScriptedTurn(['partial'], true);
      sut.chat.begin.mockResolvedValue(turn);
      const socket = await connect();
      const delta = nextSocketEvent(socket, 'chat:delta');
      await socket.emitWithAck('chat:send', { message: 'A long story' });
      await delta;
      socket.disconnect();
      await expect(turn.aborted).resolves.toBeUndefined();
    });
  });
});
