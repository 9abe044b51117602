import { randomUUID } from 'node:crypto';
import { NotFoundError } from '@app/common';
import {
  type HistoryStore,
  type MessageRecord,
  type NewMessage,
  NO_SETTINGS,
  type PendingReply,
  type SessionRecord,
} from '../src/history/history-store.interface';
import { MessageNotFoundError, SessionNotFoundError } from '../src/history/history.errors';
import { PREVIEW_MAX_CHARS } from '../src/history/message-preview';
import { messageRecord } from './factories/chat-turn.factory';

/** One HistoryStore on a real, empty database, and how to make users it accepts. */
export interface HistoryStoreHarness {
  store: HistoryStore;
  /** A new user id the store accepts (the SQL store needs a `users` row for the foreign key). */
  createUser(): Promise<string>;
  close(): Promise<void>;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const UNKNOWN_ID = '00000000-0000-4000-8000-000000000000';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function userMessage(content: string, extra: Partial<NewMessage> = {}): NewMessage {
  return { role: 'user', content, status: 'complete', ...extra };
}

/** An assistant reply still being generated, as a chat turn appends it. */
function pendingReply(extra: Partial<NewMessage> = {}): NewMessage {
  return { role: 'assistant', content: '', status: 'pending', ...extra };
}

/** What sets an implementation apart, for the cases only some of them need. */
export interface HistoryStoreTraits {
  /** The store splits large checkpoint batches into several statements (the SQL stores). */
  chunksCheckpoints?: boolean;
}

/**
 * The behaviour every HistoryStore must have. Call inside a `describe` (one per implementation);
 * `open` builds the store on a fresh database and is called once for the whole suite.
 */
export function historyStoreContract(
  open: () => Promise<HistoryStoreHarness>,
  traits: HistoryStoreTraits = {},
): void {
  let harness: HistoryStoreHarness;
  let store: HistoryStore;

  beforeAll(async () => {
    harness = await open();
    store = harness.store;
  });
  afterAll(async () => {
    await harness?.close();
  });

  /** Distinct timestamps, so "newest first" never depends on a same-millisecond tie. */
  async function append(sessionId: string, message: NewMessage): Promise<MessageRecord> {
    await sleep(3);
    return store.appendMessage(sessionId, message);
  }

  /**
   * Imports a session of `count` messages, each the child of the one before; `fields` gives each
   * message's role, content and status by seq. The session's preview is the last content.
   */
  async function importChain(
    owner: string,
    count: number,
    fields: (seq: number) => Pick<MessageRecord, 'role' | 'content' | 'status'>,
  ): Promise<{ sessionId: string; messages: MessageRecord[] }> {
    const sessionId = randomUUID();
    const now = new Date();
    const messages: MessageRecord[] = [];
    for (let seq = 1; seq <= count; seq++) {
      messages.push(
        messageRecord({
          sessionId,
          seq,
          parentId: messages.at(-1)?.id ?? null,
          ...fields(seq),
          createdAt: now,
        }),
      );
    }
    await store.importSession(
      {
        id: sessionId,
        userId: owner,
        title: null,
        messageCount: messages.length,
        lastMessage: messages.at(-1)!.content,
        activeLeafId: messages.at(-1)!.id,
        settings: NO_SETTINGS,
        createdAt: now,
        updatedAt: now,
      },
      messages,
    );
    return { sessionId, messages };
  }

  describe('sessions', () => {
    it('creates a session owned by the user and reads it back only for that user', async () => {
      const owner = await harness.createUser();
      const stranger = await harness.createUser();
      const created = await store.createSession(owner, 'First chat');

      expect(created).toEqual({
        id: expect.stringMatching(UUID),
        userId: owner,
        title: 'First chat',
        messageCount: 0,
        lastMessage: null,
        activeLeafId: null,
        settings: NO_SETTINGS,
        createdAt: expect.any(Date),
        updatedAt: expect.any(Date),
      });
      expect(created.updatedAt.getTime()).toBe(created.createdAt.getTime());
      expect(await store.getSession(owner, created.id)).toEqual(created);
      expect(await store.getSession(stranger, created.id)).toBeNull();
      expect(await store.getSession(owner, UNKNOWN_ID)).toBeNull();
      expect(await store.getSession(owner, '')).toBeNull();
    });

    it('creates an untitled session when no title is given', async () => {
      const owner = await harness.createUser();
      const created = await store.createSession(owner);
      expect(created.title).toBeNull();
      expect((await store.getSession(owner, created.id))?.title).toBeNull();
    });

    it('creates a session with settings and changes them for its owner only, not as activity', async () => {
      const owner = await harness.createUser();
      const stranger = await harness.createUser();
      const settings = {
        systemPrompt: 'Be brief.',
        model: 'local/echo',
        temperature: 0.7,
        maxTokens: 256,
      };
      const created = await store.createSession(owner, 'Configured', settings);
      expect(created.settings).toEqual(settings);
      expect((await store.getSession(owner, created.id))?.settings).toEqual(settings);

      const changed = await store.updateSettings(owner, created.id, {
        temperature: 1.3,
        systemPrompt: null,
        model: undefined,
      });
      expect(changed).toEqual({
        ...created,
        settings: { systemPrompt: null, model: 'local/echo', temperature: 1.3, maxTokens: 256 },
      });
      expect(await store.getSession(owner, created.id)).toEqual(changed);
      expect(await store.updateSettings(owner, created.id, {})).toEqual(changed);
      expect(await store.updateSettings(stranger, created.id, { maxTokens: 1 })).toBeNull();
      expect(await store.updateSettings(owner, UNKNOWN_ID, { maxTokens: 1 })).toBeNull();
      expect((await store.getSession(owner, created.id))?.settings.maxTokens).toBe(256);
    });

    it('keeps timestamps exact to the millisecond', async () => {
      const owner = await harness.createUser();
      const created = await store.createSession(owner);
      const read = await store.getSession(owner, created.id);
      expect(read?.createdAt.toISOString()).toBe(created.createdAt.toISOString());
    });
  });

  describe('appendMessage', () => {
    it('numbers messages 1, 2, 3 and keeps counters, preview and updatedAt in step', async () => {
      const owner = await harness.createUser();
      const session = await store.createSession(owner);

      const first = await append(session.id, userMessage('Hello there'));
      const second = await append(session.id, {
        role: 'assistant',
        content: 'General Kenobi',
        status: 'complete',
        model: 'local/echo',
        promptTokens: 3,
        completionTokens: 2,
      });
      const third = await append(session.id, userMessage('And again'));

      expect([first.seq, second.seq, third.seq]).toEqual([1, 2, 3]);
      expect(second).toEqual({
        id: expect.stringMatching(UUID),
        sessionId: session.id,
        seq: 2,
        parentId: first.id,
        role: 'assistant',
        content: 'General Kenobi',
        status: 'complete',
        model: 'local/echo',
        promptTokens: 3,
        completionTokens: 2,
        error: null,
        feedback: null,
        attachments: [],
        toolCalls: [],
        createdAt: expect.any(Date),
      });
      expect(first).toMatchObject({
        parentId: null,
        model: null,
        promptTokens: null,
        completionTokens: null,
      });
      expect(third.parentId).toBe(second.id);

      const after = await store.getSession(owner, session.id);
      expect(after?.messageCount).toBe(3);
      expect(after?.activeLeafId).toBe(third.id);
      expect(after?.lastMessage).toBe('And again');
      expect(after!.updatedAt.getTime()).toBe(third.createdAt.getTime());
      expect(after!.updatedAt.getTime()).toBeGreaterThan(session.updatedAt.getTime());
      expect(after?.createdAt.getTime()).toBe(session.createdAt.getTime());

      const listed = await store.listMessages(session.id, { page: 1, perPage: 10 });
      expect(listed.total).toBe(3);
      expect(listed.items).toEqual([first, second, third]);
    });

    it('gives concurrent appends distinct, gap-free numbers', async () => {
      const owner = await harness.createUser();
      const session = await store.createSession(owner);
      const count = 25;

      const appended = await Promise.all(
        Array.from({ length: count }, (_, i) =>
          store.appendMessage(session.id, userMessage(`m${i}`)),
        ),
      );

      const seqs = appended.map((m) => m.seq).sort((a, b) => a - b);
      expect(seqs).toEqual(Array.from({ length: count }, (_, i) => i + 1));
      const listed = await store.listMessages(session.id, { page: 1, perPage: 100 });
      expect(listed.total).toBe(count);
      expect(listed.items.map((m) => m.seq)).toEqual(seqs);
      expect(new Set(listed.items.map((m) => m.content)).size).toBe(count);
      const after = await store.getSession(owner, session.id);
      expect(after?.messageCount).toBe(count);
      // The preview is the message that got the last number.
      const newest = appended.find((m) => m.seq === count)!;
      expect(after?.lastMessage).toBe(newest.content);
    });

    it('keeps concurrent appends to different sessions independent', async () => {
      const owner = await harness.createUser();
      const a = await store.createSession(owner);
      const b = await store.createSession(owner);
      await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          store.appendMessage(i % 2 ? a.id : b.id, userMessage(`x${i}`)),
        ),
      );
      for (const session of [a, b]) {
        const listed = await store.listMessages(session.id, { page: 1, perPage: 100 });
        expect(listed.items.map((m) => m.seq)).toEqual([1, 2, 3, 4, 5]);
        expect((await store.getSession(owner, session.id))?.messageCount).toBe(5);
      }
    });

    it('refuses to append to an unknown session', async () => {
      await expect(store.appendMessage(UNKNOWN_ID, userMessage('lost'))).rejects.toBeInstanceOf(
        SessionNotFoundError,
      );
      await expect(store.appendMessage('', userMessage('lost'))).rejects.toBeInstanceOf(
        NotFoundError,
      );
    });

    it('appends several messages in order with the next numbers (a chat turn)', async () => {
      const owner = await harness.createUser();
      const session = await store.createSession(owner);
      const earlier = await append(session.id, userMessage('Earlier'));
      await sleep(3);

      const [question, pending] = await store.appendMessages(session.id, [
        userMessage('What is the time?'),
        pendingReply({ model: 'local/echo' }),
      ]);

      expect(question).toEqual({
        id: expect.stringMatching(UUID),
        sessionId: session.id,
        seq: 2,
        parentId: earlier.id,
        role: 'user',
        content: 'What is the time?',
        status: 'complete',
        model: null,
        promptTokens: null,
        completionTokens: null,
        error: null,
        feedback: null,
        attachments: [],
        toolCalls: [],
        createdAt: expect.any(Date),
      });
      expect(pending).toMatchObject({
        seq: 3,
        parentId: question.id,
        role: 'assistant',
        status: 'pending',
        content: '',
      });
      expect(pending.id).not.toBe(question.id);
      const after = await store.getSession(owner, session.id);
      expect(after?.messageCount).toBe(3);
      expect(after?.activeLeafId).toBe(pending.id);
      // The empty pending reply keeps the question as the preview.
      expect(after?.lastMessage).toBe('What is the time?');
      expect(after!.updatedAt.getTime()).toBe(pending.createdAt.getTime());
      const listed = await store.listMessages(session.id, { page: 1, perPage: 10 });
      expect(listed.items).toEqual([earlier, question, pending]);
      await expect(store.appendMessages(session.id, [])).resolves.toEqual([]);
    });

    it('gives concurrent multi-message appends distinct, gap-free numbers', async () => {
      const owner = await harness.createUser();
      const session = await store.createSession(owner);
      const turns = await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          store.appendMessages(session.id, [userMessage(`q${i}`), userMessage(`a${i}`)]),
        ),
      );
      const seqs = turns
        .flat()
        .map((m) => m.seq)
        .sort((a, b) => a - b);
      expect(seqs).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
      for (const [question, answer] of turns) {
        expect(answer.seq).toBeGreaterThan(question.seq);
        expect(answer.parentId).toBe(question.id);
      }
      // Each turn follows the leaf the one before it left: one chain, whatever the interleaving.
      const nodes = await store.listTreeNodes(session.id);
      expect(nodes.map((n) => n.parentId)).toEqual([null, ...nodes.slice(0, -1).map((n) => n.id)]);
      expect((await store.getSession(owner, session.id))?.activeLeafId).toBe(nodes.at(-1)?.id);
      expect((await store.getSession(owner, session.id))?.messageCount).toBe(20);
    });

    it('refuses a multi-message append to an unknown session and stores nothing', async () => {
      await expect(
        store.appendMessages(UNKNOWN_ID, [userMessage('lost'), userMessage('too')]),
      ).rejects.toBeInstanceOf(SessionNotFoundError);
    });

    it('stores the files a message attaches and returns them on every read, in order', async () => {
      const owner = await harness.createUser();
      const session = await store.createSession(owner, 'With files');
      const attachments = [
        { id: randomUUID(), name: 'diagram.png', mediaType: 'image/png' },
        { id: randomUUID(), name: 'notes «v2».md', mediaType: 'text/markdown' },
      ];
      const [question, reply] = await store.appendMessages(session.id, [
        userMessage('what is in these?', { attachments }),
        pendingReply({ model: 'local/echo' }),
      ]);
      const single = await append(
        session.id,
        userMessage('one more', { attachments: [attachments[0]] }),
      );

      expect(question.attachments).toEqual(attachments);
      expect(reply.attachments).toEqual([]);
      expect(single.attachments).toEqual([attachments[0]]);
      const listed = (await store.listMessages(session.id, { page: 1, perPage: 10 })).items;
      expect(listed.map((m) => m.attachments)).toEqual([attachments, [], [attachments[0]]]);
      expect((await store.getMessages(session.id, [question.id]))[0].attachments).toEqual(
        attachments,
      );
      expect((await store.recentMessages(session.id, 3))[0].attachments).toEqual(attachments);
      const finished = await store.updateMessage(session.id, reply.id, {
        content: 'done',
        status: 'complete',
      });
      expect(finished.attachments).toEqual([]);
    });

    it('stores the tool calls of a reply with their results and returns them on every read', async () => {
      const owner = await harness.createUser();
      const session = await store.createSession(owner, 'With tools');
      const [question, reply] = await store.appendMessages(session.id, [
        userMessage('weather in Lisbon and 6*7?'),
        { role: 'assistant', content: '', status: 'pending', model: 'local/echo' },
      ]);
      expect(reply.toolCalls).toEqual([]);
      const calls = [
        {
          id: 'call_1',
          name: 'calculator',
          arguments: '{"expression":"6*7"}',
          executedBy: 'server' as const,
          round: 0,
          result: { content: '42', isError: false },
        },
        {
          id: 'call_2',
          name: 'get_weather',
          arguments: '{"city":"Lisbon «centro»"}',
          executedBy: 'client' as const,
          round: 1,
          result: null,
        },
      ];
      const finished = await store.updateMessage(session.id, reply.id, {
        status: 'complete',
        toolCalls: calls,
      });
      expect(finished.toolCalls).toEqual(calls);
      expect(finished.content).toBe('');

      const answered = calls.map((call) => ({
        ...call,
        result: call.result ?? { content: 'sunny', isError: true },
      }));
      await store.updateMessage(session.id, reply.id, { toolCalls: answered });
      expect((await store.getMessages(session.id, [reply.id]))[0].toolCalls).toEqual(answered);
      const listed = (await store.listMessages(session.id, { page: 1, perPage: 10 })).items;
      expect(listed.map((m) => m.toolCalls)).toEqual([[], answered]);
      expect((await store.recentMessages(session.id, 2))[1].toolCalls).toEqual(answered);
      // A patch without tool calls leaves them as they are.
      const edited = await store.updateMessage(session.id, reply.id, { content: 'It is sunny.' });
      expect(edited.toolCalls).toEqual(answered);
      expect(question.toolCalls).toEqual([]);
    });

    it('stores a trimmed, whitespace-collapsed preview of at most 200 characters', async () => {
      const owner = await harness.createUser();
      const session = await store.createSession(owner);
      await append(session.id, userMessage('  several\n\nlines\tof   text  '));
      expect((await store.getSession(owner, session.id))?.lastMessage).toBe(
        'several lines of text',
      );

      const long = 'word '.repeat(100);
      const stored = await append(session.id, userMessage(long));
      expect(stored.content).toBe(long);
      const preview = (await store.getSession(owner, session.id))!.lastMessage!;
      expect(Array.from(preview).length).toBeLessThanOrEqual(PREVIEW_MAX_CHARS);
      expect(preview.endsWith('…')).toBe(true);
      expect(long.startsWith(preview.slice(0, -1))).toBe(true);
    });

    it('keeps the previous preview while a reply has no text yet', async () => {
      const owner = await harness.createUser();
      const session = await store.createSession(owner);
      await append(session.id, userMessage('What is 2+2?'));
      const pending = await append(session.id, pendingReply({ model: 'local/echo' }));
      const during = await store.getSession(owner, session.id);
      expect(during?.lastMessage).toBe('What is 2+2?');
      expect(during?.messageCount).toBe(2);
      expect(pending).toMatchObject({ content: '', status: 'pending', seq: 2 });
    });
  });

  describe('updateMessage', () => {
    it('completes a pending reply and makes it the preview', async () => {
      const owner = await harness.createUser();
      const session = await store.createSession(owner);
      await append(session.id, userMessage('Question'));
      const pending = await append(session.id, pendingReply({ model: 'local/echo' }));
      const before = await store.getSession(owner, session.id);
      await sleep(3);

      const done = await store.updateMessage(session.id, pending.id, {
        content: 'The answer',
        status: 'complete',
        promptTokens: 10,
        completionTokens: 4,
      });

      expect(done).toEqual({
        ...pending,
        content: 'The answer',
        status: 'complete',
        promptTokens: 10,
        completionTokens: 4,
      });
      const listed = await store.listMessages(session.id, { page: 1, perPage: 10 });
      expect(listed.items[1]).toEqual(done);
      const after = await store.getSession(owner, session.id);
      expect(after?.lastMessage).toBe('The answer');
      expect(after?.messageCount).toBe(2);
      expect(after!.updatedAt.getTime()).toBeGreaterThan(before!.updatedAt.getTime());
    });

    it('records an error status and reason, keeping partial text', async () => {
      const owner = await harness.createUser();
      const session = await store.createSession(owner);
      const pending = await append(session.id, pendingReply());
      const failed = await store.updateMessage(session.id, pending.id, {
        content: 'Partial ans',
        status: 'error',
        error: 'The model provider is unavailable',
        model: undefined,
      });
      expect(failed).toMatchObject({
        content: 'Partial ans',
        status: 'error',
        error: 'The model provider is unavailable',
        model: null,
      });
      const [stored] = (await store.listMessages(session.id, { page: 1, perPage: 1 })).items;
      expect(stored).toEqual(failed);
    });

    it('does not move the preview when an older message changes', async () => {
      const owner = await harness.createUser();
      const session = await store.createSession(owner);
      const old = await append(session.id, userMessage('old'));
      await append(session.id, userMessage('newest'));
      await store.updateMessage(session.id, old.id, { content: 'old, edited' });
      const after = await store.getSession(owner, session.id);
      expect(after?.lastMessage).toBe('newest');
      const listed = await store.listMessages(session.id, { page: 1, perPage: 10 });
      expect(listed.items.map((m) => m.content)).toEqual(['old, edited', 'newest']);
    });

    it('refuses an unknown message or a message of another session', async () => {
      const owner = await harness.createUser();
      const a = await store.createSession(owner);
      const b = await store.createSession(owner);
      const inA = await append(a.id, userMessage('in a'));
      await expect(
        store.updateMessage(a.id, UNKNOWN_ID, { status: 'aborted' }),
      ).rejects.toBeInstanceOf(MessageNotFoundError);
      await expect(store.updateMessage(b.id, inA.id, { status: 'aborted' })).rejects.toBeInstanceOf(
        MessageNotFoundError,
      );
      const [unchanged] = (await store.listMessages(a.id, { page: 1, perPage: 1 })).items;
      expect(unchanged.status).toBe('complete');
    });
  });

  describe('checkpointReplies', () => {
    it("saves the text so far of many pending replies at once, each with its session's preview", async () => {
      const owner = await harness.createUser();
      const replies: { session: SessionRecord; reply: MessageRecord }[] = [];
      for (const title of ['one', 'two', 'three']) {
        const session = await store.createSession(owner, title);
        await append(session.id, userMessage(`Question ${title}`));
        replies.push({ session, reply: await append(session.id, pendingReply()) });
      }
      const before = await store.getSession(owner, replies[0].session.id);
      await sleep(3);

      await store.checkpointReplies(
        replies.map(({ session, reply }) => ({
          sessionId: session.id,
          messageId: reply.id,
          content: `  Answer   so far to ${session.title}`,
        })),
      );

      for (const { session, reply } of replies) {
        const [, stored] = (await store.listMessages(session.id, { page: 1, perPage: 10 })).items;
        expect(stored).toEqual({ ...reply, content: `  Answer   so far to ${session.title}` });
        const after = await store.getSession(owner, session.id);
        expect(after?.lastMessage).toBe(`Answer so far to ${session.title}`);
        expect(after?.messageCount).toBe(2);
        expect(after!.updatedAt.getTime()).toBeGreaterThan(before!.updatedAt.getTime());
      }
      await store.checkpointReplies([]);
    });

    it('leaves ended replies, unknown ids and other sessions alone; keeps a newer preview', async () => {
      const owner = await harness.createUser();
      const session = await store.createSession(owner);
      const other = await store.createSession(owner);
      const ended = await append(session.id, pendingReply());
      await store.updateMessage(session.id, ended.id, { content: 'Final', status: 'complete' });
      const older = await append(session.id, pendingReply());
      await append(session.id, userMessage('newest'));
      const whitespace = await append(other.id, pendingReply());

      await store.checkpointReplies([
        { sessionId: session.id, messageId: ended.id, content: 'stale checkpoint' },
        { sessionId: session.id, messageId: older.id, content: 'older text' },
        { sessionId: other.id, messageId: older.id, content: 'wrong session' },
        { sessionId: session.id, messageId: UNKNOWN_ID, content: 'nobody' },
        { sessionId: other.id, messageId: whitespace.id, content: '   ' },
      ]);

      const listed = await store.listMessages(session.id, { page: 1, perPage: 10 });
      expect(listed.items.map((m) => [m.content, m.status])).toEqual([
        ['Final', 'complete'],
        ['older text', 'pending'],
        ['newest', 'complete'],
      ]);
      expect((await store.getSession(owner, session.id))?.lastMessage).toBe('newest');
      const [blank] = (await store.listMessages(other.id, { page: 1, perPage: 1 })).items;
      expect(blank.content).toBe('   ');
      expect((await store.getSession(owner, other.id))?.lastMessage).toBeNull();
    });

    (traits.chunksCheckpoints ? it : it.skip)(
      'writes a batch larger than one statement whole',
      async () => {
        const owner = await harness.createUser();
        const { sessionId, messages } = await importChain(owner, 1_100, () => ({
          role: 'assistant',
          content: '',
          status: 'pending',
        }));
        await store.checkpointReplies(
          messages.map((reply) => ({
            sessionId,
            messageId: reply.id,
            content: `text ${reply.seq}`,
          })),
        );
        const stored = await store.listMessages(sessionId, { page: 1, perPage: 2_000 });
        expect(stored.items.map((m) => m.content)).toEqual(messages.map((m) => `text ${m.seq}`));
        expect((await store.getSession(owner, sessionId))?.lastMessage).toBe('text 1100');
        // So many pending replies would crowd the other cases' pendingReplies pages.
        await store.deleteSession(owner, sessionId);
      },
    );
  });

  describe('interrupted replies', () => {
    it('lists pending replies started before a time, oldest first, with their owner', async () => {
      const owner = await harness.createUser();
      const session = await store.createSession(owner);
      await append(session.id, userMessage('Question'));
      const pending = await append(session.id, pendingReply({ model: 'local/echo' }));
      await store.updateMessage(session.id, pending.id, { content: 'Half an ans' });
      await sleep(5);
      const cutoff = new Date();
      const mine = (replies: PendingReply[]) => replies.filter((r) => r.sessionId === session.id);

      expect(mine(await store.pendingReplies(cutoff, 1000))).toEqual([
        {
          messageId: pending.id,
          sessionId: session.id,
          userId: owner,
          content: 'Half an ans',
          model: 'local/echo',
          createdAt: pending.createdAt,
        },
      ]);
      expect(mine(await store.pendingReplies(pending.createdAt, 1000))).toEqual([]);
    });

    it('finishes a pending reply once: a second finish, or one of a finished reply, is refused', async () => {
      const owner = await harness.createUser();
      const session = await store.createSession(owner);
      const pending = await append(session.id, pendingReply({ content: 'partial' }));
      const done = await append(session.id, userMessage('not pending'));
      const interrupted = { status: 'error' as const, error: 'interrupted' };

      expect(await store.finishPendingReply(session.id, pending.id, interrupted)).toBe(true);
      expect(await store.finishPendingReply(session.id, pending.id, interrupted)).toBe(false);
      expect(await store.finishPendingReply(session.id, done.id, interrupted)).toBe(false);
      expect(await store.finishPendingReply(session.id, UNKNOWN_ID, interrupted)).toBe(false);
      const listed = await store.listMessages(session.id, { page: 1, perPage: 10 });
      expect(listed.items.map((m) => [m.status, m.content, m.error])).toEqual([
        ['error', 'partial', 'interrupted'],
        ['complete', 'not pending', null],
      ]);
      const left = await store.pendingReplies(new Date(Date.now() + 1000), 1000);
      expect(left.some((r) => r.messageId === pending.id)).toBe(false);
    });
  });

  describe('listSessions', () => {
    let owner: string;
    let sessions: SessionRecord[];

    beforeAll(async () => {
      owner = await harness.createUser();
      const other = await harness.createUser();
      await append((await store.createSession(other)).id, userMessage('not yours'));
      sessions = [];
      for (let i = 0; i < 5; i++) {
        const session = await store.createSession(owner, `chat ${i}`);
        await append(session.id, userMessage(`message ${i}`));
        sessions.push(session);
      }
      // Activity in the oldest chat brings it to the top.
      await append(sessions[0].id, userMessage('back to chat 0'));
    });

    it('lists the newest activity first, with total, scoped to the user', async () => {
      const page = await store.listSessions(owner, { page: 1, perPage: 10 });
      expect(page.total).toBe(5);
      expect(page.items.map((s) => s.title)).toEqual([
        'chat 0',
        'chat 4',
        'chat 3',
        'chat 2',
        'chat 1',
      ]);
      expect(page.items[0]).toMatchObject({
        id: sessions[0].id,
        userId: owner,
        messageCount: 2,
        lastMessage: 'back to chat 0',
      });
      const times = page.items.map((s) => s.updatedAt.getTime());
      expect([...times].sort((a, b) => b - a)).toEqual(times);
    });

    it('pages through the list without overlap', async () => {
      const first = await store.listSessions(owner, { page: 1, perPage: 2 });
      const second = await store.listSessions(owner, { page: 2, perPage: 2 });
      const third = await store.listSessions(owner, { page: 3, perPage: 2 });
      const beyond = await store.listSessions(owner, { page: 4, perPage: 2 });
      expect([first.total, second.total, third.total, beyond.total]).toEqual([5, 5, 5, 5]);
      expect([first, second, third, beyond].map((p) => p.items.length)).toEqual([2, 2, 1, 0]);
      const ids = [...first.items, ...second.items, ...third.items].map((s) => s.id);
      expect(new Set(ids).size).toBe(5);
      const all = await store.listSessions(owner, { page: 1, perPage: 10 });
      expect(ids).toEqual(all.items.map((s) => s.id));
    });

    it('breaks updatedAt ties by id, newest id first', async () => {
      const user = await harness.createUser();
      // Sessions created in a burst may share a millisecond; the order must still be total.
      const burst = await Promise.all(
        Array.from({ length: 6 }, () => store.createSession(user, 'tie')),
      );
      const expected = [...burst]
        .sort(
          (a, b) =>
            b.updatedAt.getTime() - a.updatedAt.getTime() ||
            (a.id < b.id ? 1 : a.id > b.id ? -1 : 0),
        )
        .map((s) => s.id);
      const listed = await store.listSessions(user, { page: 1, perPage: 10 });
      expect(listed.items.map((s) => s.id)).toEqual(expected);
    });

    it('returns an empty page for a user without sessions', async () => {
      const user = await harness.createUser();
      expect(await store.listSessions(user, { page: 1, perPage: 20 })).toEqual({
        items: [],
        total: 0,
      });
    });
  });

  describe('search (q)', () => {
    let owner: string;
    const ids: Record<string, string> = {};

    beforeAll(async () => {
      owner = await harness.createUser();
      const other = await harness.createUser();
      const texts: Record<string, string[]> = {
        greeting: ['Hello World', 'How are you?'],
        percent: ['a discount of 100% today'],
        percentLookalike: ['a discount of 1000 today'],
        underscore: ['call my_function now'],
        underscoreLookalike: ['call myXfunction now'],
        regexish: ['the pattern (a+)*.b'],
        untouched: ['nothing to see'],
      };
      for (const [key, contents] of Object.entries(texts)) {
        const session = await store.createSession(owner, key);
        ids[key] = session.id;
        for (const content of contents) await append(session.id, userMessage(content));
      }
      // Another user's matching session must never show up.
      await append((await store.createSession(other)).id, userMessage('hello world'));
    });

    async function search(q: string, perPage = 20, page = 1) {
      const result = await store.listSessions(owner, { page, perPage }, q);
      return { ids: result.items.map((s) => s.id), total: result.total };
    }

    it('matches a substring of any message, case-insensitively', async () => {
      expect(await search('hello')).toEqual({ ids: [ids.greeting], total: 1 });
      expect(await search('WORLD')).toEqual({ ids: [ids.greeting], total: 1 });
      expect(await search('are YOU')).toEqual({ ids: [ids.greeting], total: 1 });
    });

    it('treats % and _ as literal characters', async () => {
      expect(await search('100%')).toEqual({ ids: [ids.percent], total: 1 });
      expect(await search('my_function')).toEqual({ ids: [ids.underscore], total: 1 });
      expect(await search('%')).toEqual({ ids: [ids.percent], total: 1 });
      expect(await search('_')).toEqual({ ids: [ids.underscore], total: 1 });
    });

    it('treats regex metacharacters and backslashes as literal characters', async () => {
      expect(await search('(a+)*.b')).toEqual({ ids: [ids.regexish], total: 1 });
      expect(await search('.*')).toEqual({ ids: [], total: 0 });
      expect(await search('\\')).toEqual({ ids: [], total: 0 });
    });

    it('pages search results newest first with the filtered total', async () => {
      // "discount" matches percent and percentLookalike; the lookalike was written later.
      expect(await search('discount', 1, 1)).toEqual({ ids: [ids.percentLookalike], total: 2 });
      expect(await search('discount', 1, 2)).toEqual({ ids: [ids.percent], total: 2 });
      expect(await search('discount', 1, 3)).toEqual({ ids: [], total: 2 });
    });

    it('returns nothing for text no message contains', async () => {
      expect(await search('absent words')).toEqual({ ids: [], total: 0 });
    });

    it('ignores a blank query', async () => {
      expect((await search('   ')).total).toBe(Object.keys(ids).length);
    });
  });

  describe('renameSession', () => {
    it('renames for the owner without changing activity time', async () => {
      const owner = await harness.createUser();
      const session = await store.createSession(owner, 'old title');
      await append(session.id, userMessage('hi'));
      const before = await store.getSession(owner, session.id);
      await sleep(5);

      const renamed = await store.renameSession(owner, session.id, 'new title');

      expect(renamed).toEqual({ ...before, title: 'new title' });
      expect(await store.getSession(owner, session.id)).toEqual(renamed);
    });

    it('does nothing for another user or an unknown session', async () => {
      const owner = await harness.createUser();
      const stranger = await harness.createUser();
      const session = await store.createSession(owner, 'mine');
      expect(await store.renameSession(stranger, session.id, 'stolen')).toBeNull();
      expect(await store.renameSession(owner, UNKNOWN_ID, 'nothing')).toBeNull();
      expect((await store.getSession(owner, session.id))?.title).toBe('mine');
    });
  });

  describe('deleteSession and deleteAllForUser', () => {
    it('deletes a session with its messages, only for its owner', async () => {
      const owner = await harness.createUser();
      const stranger = await harness.createUser();
      const session = await store.createSession(owner);
      const kept = await store.createSession(owner);
      await append(session.id, userMessage('doomed'));
      await append(kept.id, userMessage('doomed too? no'));

      expect(await store.deleteSession(stranger, session.id)).toBe(false);
      expect(await store.getSession(owner, session.id)).not.toBeNull();

      expect(await store.deleteSession(owner, session.id)).toBe(true);
      expect(await store.getSession(owner, session.id)).toBeNull();
      expect(await store.listMessages(session.id, { page: 1, perPage: 10 })).toEqual({
        items: [],
        total: 0,
      });
      expect(await store.recentMessages(session.id, 10)).toEqual([]);
      expect(await store.deleteSession(owner, session.id)).toBe(false);
      expect(
        await store.appendMessage(session.id, userMessage('late')).catch((e) => e),
      ).toBeInstanceOf(SessionNotFoundError);
      // Search must not find the deleted messages either.
      expect((await store.listSessions(owner, { page: 1, perPage: 10 }, 'doomed')).items).toEqual([
        expect.objectContaining({ id: kept.id }),
      ]);
      expect((await store.listMessages(kept.id, { page: 1, perPage: 10 })).total).toBe(1);
    });

    it("deletes every session and message of one user and nobody else's", async () => {
      const leaving = await harness.createUser();
      const staying = await harness.createUser();
      const gone = [await store.createSession(leaving), await store.createSession(leaving)];
      for (const session of gone) await append(session.id, userMessage('bye'));
      const stays = await store.createSession(staying);
      await append(stays.id, userMessage('bye'));

      await store.deleteAllForUser(leaving);

      expect(await store.listSessions(leaving, { page: 1, perPage: 10 })).toEqual({
        items: [],
        total: 0,
      });
      for (const session of gone) {
        expect((await store.listMessages(session.id, { page: 1, perPage: 10 })).total).toBe(0);
      }
      expect((await store.listSessions(staying, { page: 1, perPage: 10 }, 'bye')).total).toBe(1);
      expect((await store.listMessages(stays.id, { page: 1, perPage: 10 })).total).toBe(1);
    });
  });

  describe('usageByUser', () => {
    it("adds up each user's sessions, messages and tokens, leaving out users without history", async () => {
      const busy = await harness.createUser();
      const quiet = await harness.createUser();
      const idle = await harness.createUser();
      const first = await store.createSession(busy);
      await append(first.id, userMessage('hi'));
      await append(first.id, {
        role: 'assistant',
        content: 'hello',
        status: 'complete',
        promptTokens: 12,
        completionTokens: 30,
      });
      const second = await store.createSession(busy);
      await append(second.id, {
        role: 'assistant',
        content: 'again',
        status: 'complete',
        promptTokens: 8,
        completionTokens: 2,
      });
      await store.createSession(quiet);

      const usage = await store.usageByUser([busy, quiet, idle]);

      expect(usage.get(busy)).toEqual({
        sessions: 2,
        messages: 3,
        promptTokens: 20,
        completionTokens: 32,
      });
      expect(usage.get(quiet)).toEqual({
        sessions: 1,
        messages: 0,
        promptTokens: 0,
        completionTokens: 0,
      });
      expect(usage.has(idle)).toBe(false);
      expect((await store.usageByUser([])).size).toBe(0);
    });
  });

  describe('listMessages and recentMessages', () => {
    let sessionId: string;
    let all: MessageRecord[];

    beforeAll(async () => {
      const owner = await harness.createUser();
      sessionId = (await store.createSession(owner)).id;
      all = [];
      for (let i = 1; i <= 7; i++) {
        all.push(
          await append(sessionId, {
            role: i % 2 ? 'user' : 'assistant',
            content: `message ${i}`,
            status: 'complete',
          }),
        );
      }
    });

    it('pages messages oldest first', async () => {
      const first = await store.listMessages(sessionId, { page: 1, perPage: 3 });
      const third = await store.listMessages(sessionId, { page: 3, perPage: 3 });
      expect(first).toEqual({ items: all.slice(0, 3), total: 7 });
      expect(third).toEqual({ items: all.slice(6), total: 7 });
      expect(await store.listMessages(sessionId, { page: 4, perPage: 3 })).toEqual({
        items: [],
        total: 7,
      });
    });

    it('returns the newest N messages in chronological order', async () => {
      expect((await store.recentMessages(sessionId, 3)).map((m) => m.seq)).toEqual([5, 6, 7]);
      expect(await store.recentMessages(sessionId, 3)).toEqual(all.slice(4));
      expect(await store.recentMessages(sessionId, 100)).toEqual(all);
      expect(await store.recentMessages(sessionId, 0)).toEqual([]);
      expect(await store.recentMessages(UNKNOWN_ID, 5)).toEqual([]);
    });
  });

  describe('message tree', () => {
    /** q1 → a1, then a regenerated a1' and an edited first message q1' with its reply. */
    async function branched() {
      const owner = await harness.createUser();
      const session = await store.createSession(owner);
      const [q1, a1] = await store.appendMessages(session.id, [
        userMessage('q1'),
        { role: 'assistant', content: 'a1', status: 'complete' },
      ]);
      const a1b = await store.appendMessage(session.id, {
        parentId: q1.id,
        role: 'assistant',
        content: 'a1 again',
        status: 'complete',
      });
      const [q1e, a1e] = await store.appendMessages(session.id, [
        userMessage('q1 edited', { parentId: null }),
        { role: 'assistant', content: 'a1 edited', status: 'complete' },
      ]);
      return { owner, session, q1, a1, a1b, q1e, a1e };
    }

    it('appends under an explicit parent (or as a new root) and moves the active leaf', async () => {
      const { owner, session, q1, a1, a1b, q1e, a1e } = await branched();

      expect(a1b).toMatchObject({ seq: 3, parentId: q1.id });
      expect(q1e).toMatchObject({ seq: 4, parentId: null });
      expect(a1e).toMatchObject({ seq: 5, parentId: q1e.id });
      expect(await store.listTreeNodes(session.id)).toEqual([
        { id: q1.id, parentId: null, seq: 1 },
        { id: a1.id, parentId: q1.id, seq: 2 },
        { id: a1b.id, parentId: q1.id, seq: 3 },
        { id: q1e.id, parentId: null, seq: 4 },
        { id: a1e.id, parentId: q1e.id, seq: 5 },
      ]);
      const after = await store.getSession(owner, session.id);
      expect(after).toMatchObject({ messageCount: 5, activeLeafId: a1e.id });
      // A plain append follows the active leaf.
      const next = await store.appendMessage(session.id, userMessage('q2'));
      expect(next.parentId).toBe(a1e.id);
    });

    it('reads messages by id in seq order, leaving out unknown ids and other sessions', async () => {
      const { session, q1, a1b, a1e } = await branched();
      const other = await branched();

      const read = await store.getMessages(session.id, [a1e.id, q1.id, UNKNOWN_ID, other.q1.id]);
      expect(read.map((m) => m.id)).toEqual([q1.id, a1e.id]);
      expect(read[1]).toEqual(
        (await store.listMessages(session.id, { page: 1, perPage: 10 })).items[4],
      );
      expect(await store.getMessages(session.id, [a1b.id])).toEqual([
        expect.objectContaining({ content: 'a1 again', parentId: q1.id }),
      ]);
      expect(await store.getMessages(session.id, [])).toEqual([]);
      expect(await store.listTreeNodes(UNKNOWN_ID)).toEqual([]);
    });

    it('imports a whole conversation with its tree, ids and timestamps as given', async () => {
      const owner = await harness.createUser();
      const at = (minute: number) => new Date(Date.UTC(2025, 0, 1, 10, minute, 0, 123));
      const sessionId = randomUUID();
      const ids = [randomUUID(), randomUUID(), randomUUID()];
      const message = (index: number, parentId: string | null, extra: Partial<MessageRecord>) => ({
        id: ids[index],
        sessionId,
        seq: index + 1,
        parentId,
        role: 'user' as const,
        content: `imported ${index}`,
        status: 'complete' as const,
        model: null,
        promptTokens: null,
        completionTokens: null,
        error: null,
        feedback: null,
        attachments: [],
        toolCalls: [],
        createdAt: at(index),
        ...extra,
      });
      const messages: MessageRecord[] = [
        message(0, null, {
          attachments: [{ id: randomUUID(), name: 'photo.jpg', mediaType: 'image/jpeg' }],
        }),
        message(1, ids[0], {
          role: 'assistant',
          model: 'gpt-4o',
          feedback: { rating: 'up', comment: null },
        }),
        message(2, ids[0], {
          role: 'assistant',
          model: 'gpt-4o',
          toolCalls: [
            {
              id: 'call_9',
              name: 'lookup',
              arguments: '{}',
              executedBy: 'client',
              round: 0,
              result: { content: 'found', isError: false },
            },
          ],
        }),
      ];
      const session: SessionRecord = {
        id: sessionId,
        userId: owner,
        title: 'Imported',
        messageCount: 3,
        lastMessage: 'imported 2',
        activeLeafId: ids[1],
        settings: NO_SETTINGS,
        createdAt: at(0),
        updatedAt: at(2),
      };

      await store.importSession(session, messages);

      expect(await store.getSession(owner, sessionId)).toEqual(session);
      expect((await store.listMessages(sessionId, { page: 1, perPage: 10 })).items).toEqual(
        messages,
      );
      expect(await store.listTreeNodes(sessionId)).toEqual(
        messages.map(({ id, parentId, seq }) => ({ id, parentId, seq })),
      );
      expect((await store.listSessions(owner, { page: 1, perPage: 10 }, 'imported 2')).total).toBe(
        1,
      );
      const next = await store.appendMessage(sessionId, userMessage('after the import'));
      expect(next).toMatchObject({ seq: 4, parentId: ids[1] });
    });

    it('imports a long conversation (several batches) whole', async () => {
      const owner = await harness.createUser();
      const { sessionId, messages } = await importChain(owner, 1_201, (seq) => ({
        role: seq % 2 ? 'user' : 'assistant',
        content: `line ${seq}`,
        status: 'complete',
      }));
      const nodes = await store.listTreeNodes(sessionId);
      expect(nodes).toHaveLength(1_201);
      expect(nodes.at(-1)).toEqual({
        id: messages[1_200].id,
        parentId: messages[1_199].id,
        seq: 1_201,
      });
      const [last] = await store.getMessages(sessionId, [messages[1_200].id]);
      expect(last).toEqual(messages[1_200]);
    });

    it('imports nothing of a conversation the database refuses', async () => {
      const owner = await harness.createUser();
      const { a1 } = await branched();
      const sessionId = randomUUID();
      const session: SessionRecord = {
        id: sessionId,
        userId: owner,
        title: 'Half',
        messageCount: 2,
        lastMessage: null,
        activeLeafId: null,
        settings: NO_SETTINGS,
        createdAt: new Date(),
        updatedAt: new Date(),
      };
      const fresh = { ...a1, id: randomUUID(), sessionId, seq: 1, parentId: null };
      // The second message reuses an existing id: the whole conversation is refused.
      await expect(
        store.importSession(session, [fresh, { ...a1, sessionId, seq: 2, parentId: fresh.id }]),
      ).rejects.toBeDefined();
      expect(await store.getSession(owner, sessionId)).toBeNull();
      expect(await store.listTreeNodes(sessionId)).toEqual([]);
      expect((await store.listSessions(owner, { page: 1, perPage: 10 })).total).toBe(0);
    });

    it('sets, replaces and removes feedback on a message, without touching the session', async () => {
      const { owner, session, a1, a1b } = await branched();
      const other = await branched();
      const before = await store.getSession(owner, session.id);

      const rated = await store.setFeedback(session.id, a1.id, {
        rating: 'down',
        comment: 'Wrong',
      });
      expect(rated).toEqual({ ...a1, feedback: { rating: 'down', comment: 'Wrong' } });
      const replaced = await store.setFeedback(session.id, a1.id, { rating: 'up', comment: null });
      expect(replaced?.feedback).toEqual({ rating: 'up', comment: null });
      const [read] = await store.getMessages(session.id, [a1.id]);
      expect(read.feedback).toEqual({ rating: 'up', comment: null });
      expect((await store.getMessages(session.id, [a1b.id]))[0].feedback).toBeNull();
      expect(await store.getSession(owner, session.id)).toEqual(before);

      expect((await store.setFeedback(session.id, a1.id, null))?.feedback).toBeNull();
      expect((await store.getMessages(session.id, [a1.id]))[0].feedback).toBeNull();
      expect(
        await store.setFeedback(session.id, other.a1.id, { rating: 'up', comment: null }),
      ).toBeNull();
      expect(
        await store.setFeedback(session.id, UNKNOWN_ID, { rating: 'up', comment: null }),
      ).toBeNull();
      expect((await store.getMessages(other.session.id, [other.a1.id]))[0].feedback).toBeNull();
    });

    it('switches the active leaf to a message of the session, for its owner only', async () => {
      const { owner, session, a1, a1e } = await branched();
      const stranger = await harness.createUser();
      const other = await branched();
      const before = await store.getSession(owner, session.id);

      const switched = await store.setActiveLeaf(owner, session.id, a1.id);
      expect(switched).toEqual({ ...before, activeLeafId: a1.id });
      expect((await store.getSession(owner, session.id))?.activeLeafId).toBe(a1.id);
      expect(await store.setActiveLeaf(stranger, session.id, a1e.id)).toBeNull();
      expect(await store.setActiveLeaf(owner, session.id, other.a1.id)).toBeNull();
      expect(await store.setActiveLeaf(owner, session.id, UNKNOWN_ID)).toBeNull();
      expect(await store.setActiveLeaf(owner, UNKNOWN_ID, a1.id)).toBeNull();
      expect((await store.getSession(owner, session.id))?.activeLeafId).toBe(a1.id);

      // The next plain append continues the switched-to branch.
      const next = await store.appendMessage(session.id, userMessage('follow-up'));
      expect(next.parentId).toBe(a1.id);
    });
  });
}
