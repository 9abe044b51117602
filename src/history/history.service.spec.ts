import { InvalidInputError, mapError } from '@app/common';
import type { FilesService } from '../files/files.service';
import type { PresetsService } from '../presets/presets.service';
import type { ProvidersService } from '../providers/providers.service';
import { messageRecord, sessionRecord } from '../../test/factories/chat-turn.factory';
import type { HistoryStore, MessageRecord } from './history-store.interface';
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
    usageByUser: jest.fn().mockResolvedValue(new Map()),
    appendMessage: jest.fn(),
    appendMessages: jest.fn(),
    updateMessage: jest.fn(),
    listMessages: jest.fn(),
    recentMessages: jest.fn(),
    finishPendingReply: jest.fn(),
    checkpointReplies: jest.fn().mockResolvedValue(undefined),
    pendingReplies: jest.fn().mockResolvedValue([]),
    setActiveLeaf: jest.fn().mockResolvedValue(null),
    listTreeNodes: jest.fn().mockResolvedValue([]),
    getMessages: jest.fn().mockResolvedValue([]),
    setFeedback: jest.fn().mockResolvedValue(null),
    importSession: jest.fn().mockResolvedValue(undefined),
    updateSettings: jest.fn().mockResolvedValue(null),
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

/** The model catalog: `local/echo` only, as ProvidersService resolves it. */
const providers = {
  resolveModel: jest.fn((id?: string) => {
    if (id !== undefined && id !== 'local/echo') {
      throw new InvalidInputError(`Unknown model: ${id}`, [
        { field: 'model', message: 'unknown model' },
      ]);
    }
    return { id: 'local/echo', provider: 'local', model: 'echo' };
  }),
} as unknown as ProvidersService;

const presets = {
  settings: jest.fn().mockResolvedValue({
    systemPrompt: 'Preset prompt',
    model: 'local/echo',
    temperature: 0.1,
    maxTokens: null,
  }),
} as unknown as PresetsService;

const files = {
  releaseSession: jest.fn().mockResolvedValue(undefined),
} as unknown as FilesService;

describe(HistoryService.name, () => {
  let store: jest.Mocked<HistoryStore>;
  let sut: HistoryService;

  beforeEach(() => {
    store = newStore();
    sut = new HistoryService(store, providers, presets, files);
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
      expect(files.releaseSession).toHaveBeenCalledWith('alice', SESSION_ID);
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

    it("pages a session's active path with usage and tree position", async () => {
      const question = messageRecord({ sessionId: SESSION_ID, seq: 1 });
      const reply = messageRecord({
        sessionId: SESSION_ID,
        seq: 2,
        parentId: question.id,
        role: 'assistant',
        content: 'Hello!',
        model: 'test/model',
        promptTokens: 4,
        completionTokens: 2,
      });
      store.getSession.mockResolvedValue(sessionRecord({ id: SESSION_ID, activeLeafId: reply.id }));
      store.listTreeNodes.mockResolvedValue([question, reply]);
      store.getMessages.mockResolvedValue([reply]);

      const detail = await sut.getSession('alice', SESSION_ID, { page: 2, perPage: 1 });

      expect(store.getMessages).toHaveBeenCalledWith(SESSION_ID, [reply.id]);
      expect(detail).toMatchObject({
        session_id: SESSION_ID,
        active_message_id: reply.id,
        tree: 'path',
        page: 2,
        per_page: 1,
        total: 2,
      });
      expect(detail.messages).toEqual([
        {
          id: reply.id,
          parent_id: question.id,
          sibling_index: 0,
          sibling_count: 1,
          sibling_ids: [reply.id],
          role: 'assistant',
          content: 'Hello!',
          status: 'complete',
          model: 'test/model',
          usage: { prompt_tokens: 4, completion_tokens: 2, tokens: 6 },
          feedback: null,
          attachments: [],
          created_at: '2026-01-01T00:00:00.000Z',
        },
      ]);
    });
  });

  describe('export', () => {
    beforeEach(() => {
      store.getSession.mockResolvedValue(sessionRecord({ id: SESSION_ID, title: 'Trip' }));
      // 501 messages: one full batch of 500, then one more.
      const all: MessageRecord[] = [];
      for (let i = 0; i < 501; i++) {
        all.push(
          messageRecord({
            sessionId: SESSION_ID,
            seq: i + 1,
            parentId: all.at(-1)?.id ?? null,
            content: `message ${i + 1}`,
          }),
        );
      }
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
        {
          role: 'user',
          content: 'Hello',
          status: 'complete',
          parentId: undefined,
          attachments: [],
        },
        { role: 'assistant', content: '', status: 'pending', model: 'test/model' },
      ]);
    });

    it('stores a regenerated reply as a pending child of the user message', async () => {
      const reply = messageRecord({ sessionId: SESSION_ID, role: 'assistant', status: 'pending' });
      store.appendMessage.mockResolvedValue(reply);

      expect(await sut.startRegeneration(SESSION_ID, 'q-1', 'test/model')).toBe(reply);
      expect(store.appendMessage).toHaveBeenCalledWith(SESSION_ID, {
        parentId: 'q-1',
        role: 'assistant',
        content: '',
        status: 'pending',
        model: 'test/model',
      });
    });
  });

  describe('settings', () => {
    it('changes the settings given, storing the catalog id of a model, and 400s an unknown model', async () => {
      const session = sessionRecord({ id: SESSION_ID });
      store.getSession.mockResolvedValue(session);
      store.updateSettings.mockResolvedValue(session);

      await sut.updateSession('alice', SESSION_ID, {
        settings: { model: 'local/echo', temperature: null, systemPrompt: undefined },
      });
      expect(store.updateSettings).toHaveBeenCalledWith('alice', SESSION_ID, {
        model: 'local/echo',
        temperature: null,
      });

      expect(
        (await rejection(sut.updateSession('alice', SESSION_ID, { settings: { model: 'nope/x' } })))
          .status,
      ).toBe(400);
      expect(store.updateSettings).toHaveBeenCalledTimes(1);
      // A preset's settings replace the session's; settings sent alongside win over them.
      await sut.updateSession('alice', SESSION_ID, {
        presetId: 'p-1',
        settings: { temperature: 1 },
      });
      expect(store.updateSettings).toHaveBeenLastCalledWith('alice', SESSION_ID, {
        systemPrompt: 'Preset prompt',
        model: 'local/echo',
        temperature: 1,
        maxTokens: null,
      });
      // Only undefined settings: nothing to change.
      expect(
        (
          await rejection(
            sut.updateSession('alice', SESSION_ID, { settings: { model: undefined } }),
          )
        ).status,
      ).toBe(400);
    });
  });

  describe('the message tree', () => {
    // q1 → a1 → q2 → a2a, a2b (a regeneration), and q2' (an edit of q2, under a1) → a2'.
    const node = (id: string, seq: number, parentId: string | null, role: 'user' | 'assistant') =>
      messageRecord({ id, seq, parentId, role, sessionId: SESSION_ID, content: id });
    const messages = [
      node('q1', 1, null, 'user'),
      node('a1', 2, 'q1', 'assistant'),
      node('q2', 3, 'a1', 'user'),
      node('a2a', 4, 'q2', 'assistant'),
      node('a2b', 5, 'q2', 'assistant'),
      node('q2e', 6, 'a1', 'user'),
      node('a2e', 7, 'q2e', 'assistant'),
    ];
    const byIds = (_: string, ids: string[]) =>
      Promise.resolve(messages.filter((message) => ids.includes(message.id)));

    beforeEach(() => {
      store.getSession.mockResolvedValue(sessionRecord({ id: SESSION_ID, activeLeafId: 'a2b' }));
      store.listTreeNodes.mockResolvedValue(messages);
      store.getMessages.mockImplementation(byIds);
      store.setActiveLeaf.mockImplementation((_, id, leaf) =>
        Promise.resolve(sessionRecord({ id, activeLeafId: leaf })),
      );
    });

    it('reads the active path with siblings, and every message with tree=full', async () => {
      const path = await sut.getSession('alice', SESSION_ID, { page: 1, perPage: 20 });
      expect(path.messages.map((m) => [m.id, m.sibling_index, m.sibling_count])).toEqual([
        ['q1', 0, 1],
        ['a1', 0, 1],
        ['q2', 0, 2],
        ['a2b', 1, 2],
      ]);
      expect(path.messages[3].sibling_ids).toEqual(['a2a', 'a2b']);
      expect(path.total).toBe(4);

      store.listMessages.mockResolvedValue({ items: messages, total: 7 });
      const full = await sut.getSession('alice', SESSION_ID, { page: 1, perPage: 20 }, 'full');
      expect(full).toMatchObject({ tree: 'full', total: 7, active_message_id: 'a2b' });
      expect(full.messages.find((m) => m.id === 'q2e')).toMatchObject({
        parent_id: 'a1',
        sibling_index: 1,
        sibling_ids: ['q2', 'q2e'],
      });
    });

    it('switches to a branch, following the newest reply down to its leaf', async () => {
      await sut.updateSession('alice', SESSION_ID, { activeMessageId: 'q2' });
      expect(store.setActiveLeaf).toHaveBeenCalledWith('alice', SESSION_ID, 'a2b');
      await sut.updateSession('alice', SESSION_ID, { activeMessageId: 'a2a' });
      expect(store.setActiveLeaf).toHaveBeenLastCalledWith('alice', SESSION_ID, 'a2a');
      await sut.updateSession('alice', SESSION_ID, { activeMessageId: 'q1' });
      expect(store.setActiveLeaf).toHaveBeenLastCalledWith('alice', SESSION_ID, 'a2e');
    });

    it('answers 404 for a message of no branch of the session, 400 for an empty update', async () => {
      expect(
        await rejection(sut.updateSession('alice', SESSION_ID, { activeMessageId: 'x' })),
      ).toEqual({ status: 404, body: { detail: 'Message not found' } });
      expect((await rejection(sut.updateSession('alice', SESSION_ID, {}))).status).toBe(400);
      expect(store.setActiveLeaf).not.toHaveBeenCalled();
    });

    it('bases a turn on the active leaf, a chosen parent, or the question of a regenerated reply', async () => {
      const ids = (base: { history: MessageRecord[] }) => base.history.map((m) => m.id);

      const next = await sut.turnBase('alice', SESSION_ID, {}, 200);
      expect(next.parentId).toBe('a2b');
      expect(ids(next)).toEqual(['q1', 'a1', 'q2', 'a2b']);

      const edit = await sut.turnBase('alice', SESSION_ID, { parentId: 'a1' }, 200);
      expect(edit.parentId).toBe('a1');
      expect(ids(edit)).toEqual(['q1', 'a1']);

      const regen = await sut.turnBase('alice', SESSION_ID, { regenerateOf: 'a2a' }, 200);
      expect(regen.parentId).toBe('q2');
      expect(regen.regenerated?.id).toBe('q2');
      expect(ids(regen)).toEqual(['q1', 'a1']);

      expect(await sut.turnBase('alice', SESSION_ID, { parentId: null }, 200)).toEqual({
        parentId: null,
        history: [],
      });
      // The newest `limit` messages of the path.
      expect(ids(await sut.turnBase('alice', SESSION_ID, {}, 2))).toEqual(['q2', 'a2b']);
    });

    it.each([
      [{ regenerateOf: 'q2' }, 400],
      [{ parentId: 'q2' }, 400],
      [{ regenerateOf: 'nope' }, 404],
      [{ parentId: 'nope' }, 404],
    ])('refuses the turn target %j with %i', async (target, status) => {
      expect((await rejection(sut.turnBase('alice', SESSION_ID, target, 200))).status).toBe(status);
    });

    it('exports every branch with the active leaf, and the active path as Markdown', async () => {
      store.listMessages.mockResolvedValue({ items: messages, total: 7 });
      const json = await sut.exportSession('alice', SESSION_ID, 'json');
      expect(json.body).toMatchObject({ active_message_id: 'a2b', message_count: 7 });
      const markdown = (await sut.exportSession('alice', SESSION_ID, 'markdown')).body as string;
      expect(markdown).toContain('a2b');
      expect(markdown).not.toContain('a2a');
      expect(markdown).not.toContain('q2e');
    });
  });
});
