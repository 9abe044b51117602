import { InvalidInputError, mapError, RateLimitedError } from '@app/common';
import { NO_SETTINGS, SessionRecord } from '../../history/history-store.interface';
import {
  ChatTurnDeps,
  messageRecord,
  newChatTurnDeps,
  sessionRecord,
} from '../../../test/factories/chat-turn.factory';
import { SessionNotFoundError } from '../../history/history.errors';
import type { ChatInput } from '../chat-input';
import type { StoredFile } from '../../files/entities/stored-file.entity';
import type { StoredChatResult } from '../idempotency/idempotency-store';
import {
  ChatTurnPreflight,
  HISTORY_LIMIT,
  PreparedTurn,
  SESSION_BUSY_DETAIL,
  sessionLockKey,
} from './chat-turn-preflight';

const storedResult: StoredChatResult = {
  session_id: 's-1',
  message_id: 'm-1',
  reply: 'First answer',
  model: 'test/model',
  usage: { prompt_tokens: 3, completion_tokens: 2, tokens: 5 },
  finish_reason: 'stop',
  created_at: '2026-01-01T00:00:00.000Z',
};

describe(ChatTurnPreflight.name, () => {
  let deps: ChatTurnDeps;
  let sut: ChatTurnPreflight;

  const newSut = (env: Record<string, string> = {}) => {
    deps = newChatTurnDeps(env);
    sut = new ChatTurnPreflight(
      deps.history,
      deps.providers,
      deps.quota,
      deps.titles,
      deps.locks,
      deps.idempotency,
      deps.registry,
      deps.config,
      deps.presets,
      deps.files,
    );
  };

  /** The status and body a client would get for what `prepare` threw. */
  const rejection = async (input: ChatInput, idempotencyKey?: string) => {
    const error = await sut.prepare('alice', input, { idempotencyKey }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeDefined();
    return mapError(error);
  };

  const preparedTurn = async (input: ChatInput, idempotencyKey?: string) => {
    const prepared = await sut.prepare('alice', input, { idempotencyKey });
    if (!('turn' in prepared)) throw new Error('expected a new turn, got a replay');
    return prepared.turn;
  };

  const isLocked = (sessionId: string) => deps.locks.isHeld(sessionLockKey(sessionId));

  /** A stored session of alice's, as `requireSession` finds it. */
  const existingSession = (overrides: Partial<SessionRecord>) => {
    const session = sessionRecord(overrides);
    deps.history.requireSession.mockResolvedValue(session);
    return session;
  };
  /** The assistant reply stored second in `session`. */
  const storedReply = (session: SessionRecord, content: string) =>
    messageRecord({ sessionId: session.id, seq: 2, role: 'assistant', content });

  beforeEach(() => newSut());
  afterEach(() => deps.locks.close());

  describe('a new session', () => {
    it('creates the session with the derived title, stores the exchange and holds the lock', async () => {
      const turn = await preparedTurn({ message: 'Hello there' });

      expect(deps.history.createSession).toHaveBeenCalledWith('alice', 'Hello there', NO_SETTINGS);
      expect(deps.history.startExchange).toHaveBeenCalledWith(
        turn.sessionId,
        'Hello there',
        'test/model',
        undefined,
        [],
      );
      expect(deps.history.turnBase).not.toHaveBeenCalled();
      expect(turn).toMatchObject<Partial<PreparedTurn>>({
        userId: 'alice',
        model: 'test/model',
        firstExchange: true,
        messages: [{ role: 'user', content: 'Hello there' }],
      });
      expect(await isLocked(turn.sessionId)).toBe(true);
      await turn.lock.release();
    });

    it('checks the quota before anything is stored', async () => {
      deps.quota.assertWithinQuota.mockRejectedValue(new RateLimitedError('Too many', 30));

      expect(await rejection({ message: 'Hi' })).toEqual({
        status: 429,
        body: { detail: 'Too many' },
        retryAfterSeconds: 30,
      });
      expect(deps.history.createSession).not.toHaveBeenCalled();
      expect(deps.history.startExchange).not.toHaveBeenCalled();
    });
  });

  describe('an existing session', () => {
    it('continues it with its earlier messages as context', async () => {
      const session = existingSession({ messageCount: 2 });
      const answer = storedReply(session, 'Earlier answer');
      deps.history.turnBase.mockResolvedValue({
        parentId: answer.id,
        history: [
          messageRecord({
            sessionId: session.id,
            seq: 1,
            role: 'user',
            content: 'Earlier question',
          }),
          answer,
        ],
      });

      const turn = await preparedTurn({ message: 'Next', sessionId: session.id });

      expect(deps.history.requireSession).toHaveBeenCalledWith('alice', session.id);
      expect(deps.history.turnBase).toHaveBeenCalledWith('alice', session.id, {}, HISTORY_LIMIT);
      expect(deps.history.startExchange).toHaveBeenCalledWith(
        session.id,
        'Next',
        'test/model',
        answer.id,
        [],
      );
      expect(turn.messages.map((m) => m.content)).toEqual([
        'Earlier question',
        'Earlier answer',
        'Next',
      ]);
      expect(turn.firstExchange).toBe(false);
      expect(deps.history.createSession).not.toHaveBeenCalled();
      expect(deps.titles.titleUntitled).not.toHaveBeenCalled();
      await turn.lock.release();
    });

    it('titles an empty session on its first exchange', async () => {
      const session = existingSession({ title: null });

      const turn = await preparedTurn({ message: 'Plan a trip', sessionId: session.id });

      expect(turn.firstExchange).toBe(true);
      expect(deps.titles.titleUntitled).toHaveBeenCalledWith('alice', session, 'Plan a trip');
      await turn.lock.release();
    });

    it('edits: the new message follows the chosen parent, with the path to it as context', async () => {
      const session = existingSession({ messageCount: 4 });
      const parent = storedReply(session, 'A1');
      deps.history.turnBase.mockResolvedValue({
        parentId: parent.id,
        history: [messageRecord({ sessionId: session.id, content: 'Q1' }), parent],
      });

      const turn = await preparedTurn({
        message: 'Q2 edited',
        sessionId: session.id,
        parentId: parent.id,
      });

      expect(deps.history.turnBase).toHaveBeenCalledWith(
        'alice',
        session.id,
        { parentId: parent.id },
        HISTORY_LIMIT,
      );
      expect(deps.history.startExchange).toHaveBeenCalledWith(
        session.id,
        'Q2 edited',
        'test/model',
        parent.id,
        [],
      );
      expect(turn.messages.map((m) => m.content)).toEqual(['Q1', 'A1', 'Q2 edited']);
      await turn.lock.release();
    });

    describe('tool results', () => {
      const waitingReply = (session: SessionRecord) =>
        messageRecord({
          sessionId: session.id,
          seq: 2,
          role: 'assistant',
          content: '',
          toolCalls: [
            {
              id: 'c1',
              name: 'calculator',
              arguments: '{}',
              executedBy: 'server',
              round: 0,
              result: { content: '42', isError: false },
            },
            {
              id: 'c2',
              name: 'get_weather',
              arguments: '{"city":"Lisbon"}',
              executedBy: 'client',
              round: 0,
              result: null,
            },
          ],
        });

      it('continue the waiting reply: results stored on its calls, a new reply under it, the round in the prompt', async () => {
        const session = existingSession({ messageCount: 2 });
        const question = messageRecord({ sessionId: session.id, content: 'Weather and 6*7?' });
        const waiting = waitingReply(session);
        deps.history.turnBase.mockResolvedValue({
          parentId: waiting.id,
          history: [question, waiting],
          waiting,
        });

        const turn = await preparedTurn({
          message: '',
          sessionId: session.id,
          toolResults: [{ toolCallId: 'c2', content: 'sunny', isError: false }],
        });

        expect(deps.history.turnBase).toHaveBeenCalledWith(
          'alice',
          session.id,
          { continueToolCalls: true },
          HISTORY_LIMIT,
        );
        const answered = [
          waiting.toolCalls[0],
          { ...waiting.toolCalls[1], result: { content: 'sunny', isError: false } },
        ];
        expect(deps.history.continueAfterToolCalls).toHaveBeenCalledWith(
          session.id,
          waiting.id,
          answered,
          'test/model',
        );
        expect(deps.history.startExchange).not.toHaveBeenCalled();
        expect(turn.messages.map((m) => [m.role, m.content])).toEqual([
          ['user', 'Weather and 6*7?'],
          ['assistant', ''],
          ['tool', '42'],
          ['tool', 'sunny'],
        ]);
        expect(turn.firstExchange).toBe(false);
        await turn.lock.release();
      });

      it('400 naming missing and unknown ids; nothing stored, the session freed', async () => {
        const session = existingSession({ messageCount: 2 });
        const waiting = waitingReply(session);
        deps.history.turnBase.mockResolvedValue({
          parentId: waiting.id,
          history: [waiting],
          waiting,
        });

        const { status, body } = await rejection({
          message: '',
          sessionId: session.id,
          toolResults: [{ toolCallId: 'c1', content: 'mine', isError: false }],
        });

        expect(status).toBe(400);
        expect(body.detail).toBe(
          'tool_results must answer exactly the waiting calls: missing results for c2; no waiting call has the id c1',
        );
        expect(deps.history.continueAfterToolCalls).not.toHaveBeenCalled();
        expect(await isLocked(session.id)).toBe(false);
      });
    });

    it('regenerates: only a new reply to the same user message, whose text is the prompt', async () => {
      const session = existingSession({ messageCount: 2 });
      const question = messageRecord({ sessionId: session.id, content: 'Tell a joke' });
      deps.history.turnBase.mockResolvedValue({
        parentId: question.id,
        history: [],
        regenerated: question,
      });

      const turn = await preparedTurn({
        message: '',
        sessionId: session.id,
        regenerateOf: 'reply-1',
        model: 'other/model',
      });

      expect(deps.history.turnBase).toHaveBeenCalledWith(
        'alice',
        session.id,
        { regenerateOf: 'reply-1' },
        HISTORY_LIMIT,
      );
      expect(deps.history.startExchange).not.toHaveBeenCalled();
      expect(deps.history.startRegeneration).toHaveBeenCalledWith(
        session.id,
        question.id,
        'other/model',
      );
      expect(turn.messages).toEqual([{ role: 'user', content: 'Tell a joke' }]);
      expect(turn.firstExchange).toBe(false);
      await turn.lock.release();
    });

    it.each<[string, ChatInput, string]>([
      ['regenerate_of without a session', { message: '', regenerateOf: 'r' }, 'session_id'],
      ['parent_id without a session', { message: 'Hi', parentId: null }, 'session_id'],
      [
        'regenerate_of with a message',
        { message: 'Hi', sessionId: 's', regenerateOf: 'r' },
        'message',
      ],
      [
        'regenerate_of with parent_id',
        { message: '', sessionId: 's', regenerateOf: 'r', parentId: 'p' },
        'parent_id',
      ],
    ])('answers 400 for %s, before anything is read', async (_, input, field) => {
      const answer = await rejection(input);
      expect(answer.status).toBe(400);
      expect(answer.body).toMatchObject({ errors: [{ field }] });
      expect(deps.history.requireSession).not.toHaveBeenCalled();
    });

    it("uses the session's settings for what the request does not send, for this turn only", async () => {
      const session = existingSession({
        messageCount: 2,
        settings: {
          systemPrompt: 'Be brief.',
          model: 'stored/model',
          temperature: 0.2,
          maxTokens: 64,
        },
      });

      const stored = await preparedTurn({ message: 'Hi', sessionId: session.id });
      expect(stored).toMatchObject({
        model: 'stored/model',
        input: { temperature: 0.2, maxTokens: 64 },
      });
      expect(stored.messages[0]).toEqual({ role: 'system', content: 'Be brief.' });
      await stored.lock.release();

      const own = await preparedTurn({
        message: 'Hi',
        sessionId: session.id,
        model: 'own/model',
        temperature: 1,
        systemPrompt: 'Be wordy.',
      });
      expect(own).toMatchObject({ model: 'own/model', input: { temperature: 1, maxTokens: 64 } });
      expect(own.messages[0]).toEqual({ role: 'system', content: 'Be wordy.' });
      await own.lock.release();
    });

    it("falls back to the default model when the session's left the configuration", async () => {
      const session = existingSession({
        messageCount: 2,
        settings: { ...NO_SETTINGS, model: 'gone/model' },
      });
      deps.providers.resolveModel.mockImplementation((id?: string) => {
        if (id === 'gone/model') throw new InvalidInputError('Unknown model');
        return {
          id: id ?? 'test/model',
          provider: 'test',
          model: 'model',
          contextWindow: 8_000,
          inputs: [],
        };
      });

      const turn = await preparedTurn({ message: 'Hi', sessionId: session.id });
      expect(turn.model).toBe('test/model');
      await turn.lock.release();
    });

    it("layers request, then preset, then session settings; a new session keeps the preset's", async () => {
      deps.presets.settings.mockResolvedValue({
        systemPrompt: 'From the preset.',
        model: 'preset/model',
        temperature: null,
        maxTokens: 99,
      });
      const session = existingSession({
        messageCount: 2,
        settings: {
          systemPrompt: 'From the session.',
          model: null,
          temperature: 0.4,
          maxTokens: 10,
        },
      });

      const turn = await preparedTurn({
        message: 'Hi',
        sessionId: session.id,
        presetId: 'p-1',
        maxTokens: 5,
      });
      expect(deps.presets.settings).toHaveBeenCalledWith('alice', 'p-1');
      expect(turn).toMatchObject({
        model: 'preset/model',
        input: { temperature: 0.4, maxTokens: 5 },
      });
      expect(turn.messages[0]).toEqual({ role: 'system', content: 'From the preset.' });
      await turn.lock.release();

      const fresh = await preparedTurn({ message: 'New', presetId: 'p-1' });
      expect(deps.history.createSession).toHaveBeenCalledWith('alice', 'New', {
        systemPrompt: 'From the preset.',
        model: 'preset/model',
        temperature: null,
        maxTokens: 99,
      });
      await fresh.lock.release();
    });

    it("stores what the first request sent as a new session's settings", async () => {
      const turn = await preparedTurn({ message: 'Hi', model: 'x/y', temperature: 0.5 });
      expect(deps.history.createSession).toHaveBeenCalledWith('alice', 'Hi', {
        systemPrompt: null,
        model: 'x/y',
        temperature: 0.5,
        maxTokens: null,
      });
      await turn.lock.release();
    });

    it("answers 404 for an unknown, malformed or another user's session", async () => {
      deps.history.requireSession.mockRejectedValue(new SessionNotFoundError());

      expect(await rejection({ message: 'Hi', sessionId: 'not-a-uuid' })).toEqual({
        status: 404,
        body: { detail: 'Session not found' },
      });
      expect(deps.history.startExchange).not.toHaveBeenCalled();
    });

    it('answers 409 while a reply is being generated for the session', async () => {
      const session = existingSession({ messageCount: 2 });
      const running = await deps.locks.acquire(sessionLockKey(session.id), 30_000);

      expect(await rejection({ message: 'Hi', sessionId: session.id })).toEqual({
        status: 409,
        body: { detail: SESSION_BUSY_DETAIL },
      });
      expect(deps.quota.assertWithinQuota).not.toHaveBeenCalled();
      expect(deps.history.startExchange).not.toHaveBeenCalled();
      await running?.release();
    });

    it.each<[string, (deps: ChatTurnDeps) => void, number]>([
      [
        'the quota is used up',
        (d) => d.quota.assertWithinQuota.mockRejectedValue(new RateLimitedError('Quota', 60)),
        429,
      ],
      [
        'the history cannot be read',
        (d) => d.history.turnBase.mockRejectedValue(new Error('disk gone')),
        500,
      ],
      [
        'the exchange cannot be stored',
        (d) => d.history.startExchange.mockRejectedValue(new Error('disk full')),
        500,
      ],
    ])('releases the session lock and the Idempotency-Key when %s', async (_, fail, status) => {
      const session = existingSession({ messageCount: 2 });
      fail(deps);

      expect((await rejection({ message: 'Hi', sessionId: session.id }, 'key-1')).status).toBe(
        status,
      );
      expect(await isLocked(session.id)).toBe(false);
      // The key is free again: the same request is claimed anew, not answered 409.
      expect(await deps.idempotency.claim('alice:key-1', 'x', 60)).toBeNull();
    });

    it('releases the lock of a new session when its exchange cannot be stored', async () => {
      deps.history.startExchange.mockRejectedValue(new Error('disk full'));

      expect((await rejection({ message: 'Hi' })).status).toBe(500);
      const created = await deps.history.createSession.mock.results[0].value;
      expect(await isLocked((created as { id: string }).id)).toBe(false);
    });
  });

  describe('attachments', () => {
    const image = { id: 'f-1', name: 'cat.png', mediaType: 'image/png' } as StoredFile;

    it('sends the files with the message, stores their references and records the session using them', async () => {
      deps.providers.resolveModel.mockReturnValue({
        id: 'test/vision',
        provider: 'test',
        model: 'vision',
        contextWindow: 8_000,
        inputs: ['image'],
      });
      deps.files.requireOwned.mockResolvedValue([image]);
      deps.files.load.mockResolvedValue(
        new Map([['f-1', { ...image, kind: 'image' as const, bytes: Buffer.from('png') }]]),
      );

      const turn = await preparedTurn({ message: 'What is it?', attachments: ['f-1'] });

      expect(deps.files.requireOwned).toHaveBeenCalledWith('alice', ['f-1']);
      expect(turn.messages.at(-1)).toEqual({
        role: 'user',
        content: 'What is it?',
        inputs: [{ kind: 'image', mediaType: 'image/png', name: 'cat.png', data: 'cG5n' }],
      });
      const references = [{ id: 'f-1', name: 'cat.png', mediaType: 'image/png' }];
      expect(deps.history.startExchange).toHaveBeenCalledWith(
        turn.sessionId,
        'What is it?',
        'test/vision',
        undefined,
        references,
      );
      expect(deps.files.recordUse).toHaveBeenCalledWith(turn.sessionId, ['f-1']);
      await turn.lock.release();
    });

    it('refuses an image for a model that cannot read it with 400, storing nothing', async () => {
      deps.files.requireOwned.mockResolvedValue([image]);
      const { status, body } = await rejection({ message: 'See', attachments: ['f-1'] });
      expect(status).toBe(400);
      expect(body.detail).toBe(
        'Model test/model cannot read images (cat.png); no configured model can',
      );
      expect(deps.history.createSession).not.toHaveBeenCalled();
      expect(deps.history.startExchange).not.toHaveBeenCalled();
    });
  });

  describe('input checks', () => {
    it('answers 400 for a message over CHAT__MAX_MESSAGE_CHARS', async () => {
      newSut({ CHAT__MAX_MESSAGE_CHARS: '10' });

      expect(await rejection({ message: 'x'.repeat(11) })).toEqual({
        status: 400,
        body: {
          detail: 'message must be at most 10 characters',
          errors: [{ field: 'message', message: 'must be at most 10 characters' }],
        },
      });
    });

    it("answers 400 when the message cannot fit the model's context window", async () => {
      deps.providers.resolveModel.mockReturnValue({
        id: 'test/tiny',
        provider: 'test',
        model: 'tiny',
        contextWindow: 64,
        inputs: [],
      });

      const { status, body } = await rejection({ message: 'word '.repeat(200), maxTokens: 16 });

      expect(status).toBe(400);
      expect(body.detail).toMatch(/too long for the model's context window/);
      expect(deps.history.createSession).not.toHaveBeenCalled();
    });
  });

  describe('Idempotency-Key', () => {
    it('replays the stored outcome of a finished request without touching the history', async () => {
      const input = { message: 'Hello' };
      const first = await preparedTurn(input, 'key-1');
      await deps.idempotency.complete(
        'alice:key-1',
        first.idempotency!.fingerprint,
        storedResult,
        60,
      );
      await first.lock.release();
      deps.history.createSession.mockClear();

      expect(await sut.prepare('alice', input, { idempotencyKey: 'key-1' })).toEqual({
        replay: storedResult,
      });
      expect(deps.history.createSession).not.toHaveBeenCalled();
    });

    it('answers 409 while the first request is still running', async () => {
      const first = await preparedTurn({ message: 'Hello' }, 'key-1');

      expect(await rejection({ message: 'Hello' }, 'key-1')).toEqual({
        status: 409,
        body: { detail: 'A request with this Idempotency-Key is still being processed' },
      });
      await first.lock.release();
    });

    it('answers 409 for the same key with another body', async () => {
      const first = await preparedTurn({ message: 'Hello' }, 'key-1');

      expect(await rejection({ message: 'Something else' }, 'key-1')).toEqual({
        status: 409,
        body: { detail: 'This Idempotency-Key was already used with a different request body' },
      });
      await first.lock.release();
    });

    it('scopes keys to the user', async () => {
      const first = await preparedTurn({ message: 'Hello' }, 'key-1');
      const other = await sut.prepare('bob', { message: 'Hello' }, { idempotencyKey: 'key-1' });

      expect('turn' in other).toBe(true);
      await first.lock.release();
      if ('turn' in other) await other.turn.lock.release();
    });
  });
});
