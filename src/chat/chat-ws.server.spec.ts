import { ForbiddenError, NotFoundError, UnauthorizedError } from '@app/common';
import { ChatWsClient, openChatWs } from '@app/testing';
import {
  ScriptedTurn,
  socketIdentity,
  startSocketTransport,
  type SocketTransportUnderTest,
} from '../../test/factories/socket-chat.factory';
import { ChatWsServer } from './chat-ws.server';

const SESSION_ID = '6f1c1b5e-2f4b-4b8e-9a43-0c1d2e3f4a5b';

/** The plain WebSocket endpoint over a real server and client; chat and token checks are mocked. */
describe(ChatWsServer.name, () => {
  let sut: SocketTransportUnderTest;
  const clients: ChatWsClient[] = [];
  const alice = socketIdentity();

  beforeAll(async () => {
    sut = await startSocketTransport(ChatWsServer, 'webSocket');
  });
  afterAll(() => sut.app.close());

  beforeEach(() => {
    jest.resetAllMocks();
    sut.authenticate.mockResolvedValue(alice);
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((client) => client.close()));
  });

  const open = async (token = 'token-of-alice') => {
    const client = await openChatWs(sut.url, token);
    clients.push(client);
    return client;
  };

  describe('upgrade', () => {
    it('authenticates the upgrade request the client sent', async () => {
      await open('the-token');
      const [, url] = sut.authenticate.mock.calls[0] as [unknown, URL];
      expect(url.searchParams.get('token')).toBe('the-token');
    });

    it.each([
      [401, 'Invalid access token', new UnauthorizedError('Invalid access token')],
      [403, 'Account is disabled', new ForbiddenError('Account is disabled')],
      // A database outage is not a bad token.
      [503, 'Database unavailable', Object.assign(new Error('starting up'), { code: '57P03' })],
    ])('refuses with HTTP %i {detail} before the upgrade', async (status, detail, error) => {
      sut.authenticate.mockRejectedValue(error);
      await expect(open()).rejects.toMatchObject({ status, body: { detail } });
    });
  });

  describe('message frames', () => {
    it('streams start, deltas and done with session_id, client_id and seq', async () => {
      const turn = new ScriptedTurn(['Hel', 'lo']);
      sut.chat.begin.mockResolvedValue(turn);
      const client = await open();
      client.send({ type: 'message', message: 'Hi', client_id: 'c-1' });
      await client.next((frame) => frame.type === 'done');
      const extra = { session_id: turn.sessionId, client_id: 'c-1' };
      expect(client.frames).toEqual([
        { type: 'start', message_id: turn.messageId, model: 'test/model', ...extra, seq: 1 },
        { type: 'delta', text: 'Hel', ...extra, seq: 2 },
        { type: 'delta', text: 'lo', ...extra, seq: 3 },
        expect.objectContaining({ type: 'done', finish_reason: 'stop', ...extra, seq: 4 }),
      ]);
      // A token, not a personal API key: no key quota applies.
      expect(sut.chat.begin).toHaveBeenCalledWith(
        alice.user.id,
        expect.objectContaining({ message: 'Hi' }),
        { apiKey: undefined },
      );
    });

    it('answers malformed JSON and invalid payloads with an error frame and stays open', async () => {
      sut.chat.begin.mockResolvedValue(new ScriptedTurn());
      const client = await open();
      client.send('{not json');
      expect(await client.next((frame) => frame.type === 'error')).toEqual({
        type: 'error',
        detail: 'Malformed JSON frame',
        status: 400,
      });
      client.send({ message: 42, client_id: 'c-2' });
      expect(await client.next((frame) => frame.type === 'error')).toEqual(
        expect.objectContaining({ status: 400, client_id: 'c-2' }),
      );
      client.send({ message: 'still there?' });
      await client.next((frame) => frame.type === 'done');
      expect(sut.chat.begin).toHaveBeenCalledTimes(1);
    });

    it('answers a failure before the reply starts with its status', async () => {
      sut.chat.begin.mockRejectedValue(new NotFoundError('Session not found'));
      const client = await open();
      client.send({ message: 'Hi', session_id: SESSION_ID, client_id: 'c-3' });
      expect(await client.next((frame) => frame.type === 'error')).toEqual({
        type: 'error',
        detail: 'Session not found',
        status: 404,
        client_id: 'c-3',
      });
    });

    it('refuses frames once the token has expired (401)', async () => {
      sut.authenticate.mockResolvedValue({
        ...alice,
        expiresAt: Math.floor(Date.now() / 1000) - 1,
      });
      const client = await open();
      client.send({ message: 'Hi' });
      expect(await client.next((frame) => frame.type === 'error')).toEqual(
        expect.objectContaining({
          detail: 'Access token has expired; reconnect with a new one',
          status: 401,
        }),
      );
      expect(sut.chat.begin).not.toHaveBeenCalled();
    });
  });

  describe('abort', () => {
    it('an abort frame stops the session and says whether a reply was running', async () => {
      sut.chat.abort.mockResolvedValue(false);
      const client = await open();
      client.send({ type: 'abort', session_id: SESSION_ID });
      expect(await client.next((frame) => frame.type === 'aborted')).toEqual({
        type: 'aborted',
        session_id: SESSION_ID,
        running: false,
      });
      expect(sut.chat.abort).toHaveBeenCalledWith(alice.user.id, SESSION_ID);
    });

    it('closing the connection aborts its running replies', async () => {
      const turn = new ScriptedTurn(['partial'], true);
      sut.chat.begin.mockResolvedValue(turn);
      const client = await open();
      client.send({ message: 'A long story' });
      await client.next((frame) => frame.type === 'delta');
      await client.close();
      await expect(turn.aborted).resolves.toBeUndefined();
    });
  });
});
