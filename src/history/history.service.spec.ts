import { mapError } from '@app/common';
import { messageRecord, sessionRecord } from '../../test/factories/chat-turn.factory';
import type { HistoryStore } from './history-store.interface';
import { HistoryService } from './history.service';

const SESSION_ID = '3f2b8a5e-2c1d-4b7a-9e0f-1a2b3c4d5e6f';

/** A store mock with every method; each test sets what it returns. */
function newStore(): jest.Mocked<HistoryStore> {
  return {
    createSession: jest.fn(),
    getSession: jest.fn().mockResolvedValue(null),
    listSessions: jest.fn(),
    renameSession: jest.fn().mockResolvedValue(null),
    deleteSession: jest.fn().mockResolvedValue(false),
    deleteAllForUser: jest.fn(),
    appendMessage: jest.fn(),
    appendMessages: jest.fn(),
    updateMessage: jest.fn(),
    listMessages: jest.fn(),
    recentMessages: jest.fn(),
    finishPendingReply: jest.fn(),
    pendingReplies: jest.fn().mockResolvedValue([]),
  };
}

/** What a client gets for the error a call rejected with. */
async function rejection(promise: Promise<unknown>) {
  return mapError(
    await promise.then(
      () => undefined,
      (error: unknown) => error,
    ),
  );
}

const NOT_FOUND = { status: 404, body: { detail: 'Session not found' } };

describe(HistoryService.name, () => {
  let store: jest.Mocked<HistoryStore>;
  let sut: HistoryService;

  beforeEach(() => {
    store = newStore();
    sut = new HistoryService(store);
  });

  describe('the 404 rule', () => {
    const calls: [string, (id: string) => Promise<unknown>][] = [
      ['requireSession', (id) => sut.requireSession('alice', id)],
      ['getSession', (id) => sut.getSession('alice', id, { page: 1, perPage: 20 })],
      ['renameSession', (id) => sut.renameSession('alice', id, 'New title')],
      ['deleteSession', (id) => sut.deleteSession('alice', id)],
      ['exportSession', (id) => sut.exportSession('alice', id, 'json')],
    ];

    it.each(calls)('%s answers 404 for a malformed id without a query', async (_, call) => {
      for (const id of ['not-a-uuid', '', `${SESSION_ID}x`, "1' OR '1'='1"]) {
        expect(await rejection(call(id))).toEqual(NOT_FOUND);
      }
      expect(store.getSession).not.toHaveBeenCalled();
      expect(store.renameSession).not.toHaveBeenCalled();
      expect(store.deleteSession).not.toHaveBeenCalled();
    });

    it.each(calls)("%s answers 404 for an unknown or another user's session", async (_, call) => {
      // The store scopes to the caller: another user's session is not found either.
      expect(await rejection(call(SESSION_ID))).toEqual(NOT_FOUND);
    });

    it('looks sessions up by the canonical lower-case id, scoped to the caller', async () => {
      const session = sessionRecord({ id: SESSION_ID });
      store.getSession.mockResolvedValue(session);

      expect(await sut.requireSession('alice', SESSION_ID.toUpperCase())).toBe(session);
      expect(store.getSession).toHaveBeenCalledWith('alice', SESSION_ID);
    });

    it('renames and deletes an owned session', async () => {
      const renamed = sessionRecord({ id: SESSION_ID, title: 'New title' });
      store.renameSession.mockResolvedValue(renamed);
      store.deleteSession.mockResolvedValue(true);

      expect(await sut.renameSession('alice', SESSION_ID, 'New title')).toMatchObject({
        session_id: SESSION_ID,
        title: 'New title',
      });
      await expect(sut.deleteSession('alice', SESSION_ID)).resolves.toBeUndefined();
      expect(store.deleteSession).toHaveBeenCalledWith('alice', SESSION_ID);
    });
  });

  describe('pagination', () => {
    it('lists sessions as a page with the total, a blank query meaning none', async () => {
      const session = sessionRecord({ id: SESSION_ID, lastMessage: 'Hi', messageCount: 2 });
      store.listSessions.mockResolvedValue({ items: [session], total: 41 });

      const page = await sut.listSessions('alice', { page: 3, perPage: 20 }, '   ');

      expect(store.listSessions).toHaveBeenCalledWith('alice', { page: 3, perPage: 20 }, undefined);
      expect(page).toEqual({
        items: [
          {
            session_id: SESSION_ID,
            title: 'A title',
            last_message: 'Hi',
            message_count: 2,
            updated_at: '2026-01-01T00:00:00.000Z',
          },
        ],
        page: 3,
        per_page: 20,
        total: 41,
      });
    });

    it('passes a trimmed search query to the store', async () => {
      store.listSessions.mockResolvedValue({ items: [], total: 0 });

      await sut.listSessions('alice', { page: 1, perPage: 10 }, '  paris ');

      expect(store.listSessions).toHaveBeenCalledWith('alice', { page: 1, perPage: 10 }, 'paris');
    });

    it("pages a session's messages with their usage", async () => {
      store.getSession.mockResolvedValue(sessionRecord({ id: SESSION_ID }));
      const reply = messageRecord({
        sessionId: SESSION_ID,
        seq: 2,
        role: 'assistant',
        content: 'Hello!',
        model: 'test/model',
        promptTokens: 4,
        completionTokens: 2,
      });
      store.listMessages.mockResolvedValue({ items: [reply], total: 2 });

      const detail = await sut.getSession('alice', SESSION_ID, { page: 2, perPage: 1 });

      expect(store.listMessages).toHaveBeenCalledWith(SESSION_ID, { page: 2, perPage: 1 });
      expect(detail).toMatchObject({ session_id: SESSION_ID, page: 2, per_page: 1, total: 2 });
      expect(detail.messages).toEqual([
        {
          id: reply.id,
          role: 'assistant',
          content: 'Hello!',
          status: 'complete',
          model: 'test/model',
          usage: { prompt_tokens: 4, completion_tokens: 2, tokens: 6 },
          created_at: '2026-01-01T00:00:00.000Z',
        },
      ]);
    });
  });

  describe('export', () => {
    beforeEach(() => {
      store.getSession.mockResolvedValue(sessionRecord({ id: SESSION_ID, title: 'Trip' }));
      // 501 messages: one full batch of 500, then one more.
      const all = Array.from({ length: 501 }, (_, i) =>
        messageRecord({ sessionId: SESSION_ID, seq: i + 1, content: `message ${i + 1}` }),
      );
      store.listMessages.mockImplementation((_, { page, perPage }) =>
        Promise.resolve({
          items: all.slice((page - 1) * perPage, page * perPage),
          total: all.length,
        }),
      );
    });

    it('exports every message as JSON, reading the session in batches', async () => {
      const exported = await sut.exportSession('alice', SESSION_ID, 'json');

      expect(exported.contentType).toBe('application/json; charset=utf-8');
      expect(exported.filename).toBe(`chat-${SESSION_ID}.json`);
      expect(exported.body).toMatchObject({
        session_id: SESSION_ID,
        title: 'Trip',
        message_count: 501,
      });
      const body = exported.body as { messages: { content: string }[] };
      expect(body.messages.at(-1)?.content).toBe('message 501');
      expect(store.listMessages).toHaveBeenCalledTimes(2);
    });

    it('exports a Markdown transcript', async () => {
      const exported = await sut.exportSession('alice', SESSION_ID, 'markdown');

      expect(exported.contentType).toBe('text/markdown; charset=utf-8');
      expect(exported.filename).toBe(`chat-${SESSION_ID}.md`);
      expect(exported.body).toEqual(expect.stringContaining('message 501'));
    });
  });

  describe('chat turns', () => {
    it('stores the user message and a pending reply, and returns the reply', async () => {
      const [question, reply] = [
        messageRecord({ sessionId: SESSION_ID, seq: 1 }),
        messageRecord({ sessionId: SESSION_ID, seq: 2, role: 'assistant', status: 'pending' }),
      ];
      store.appendMessages.mockResolvedValue([question, reply]);

      expect(await sut.startExchange(SESSION_ID, 'Hello', 'test/model')).toBe(reply);
      expect(store.appendMessages).toHaveBeenCalledWith(SESSION_ID, [
        { role: 'user', content: 'Hello', status: 'complete' },
        { role: 'assistant', content: '', status: 'pending', model: 'test/model' },
      ]);
    });
  });
});
