import { randomBytes } from 'node:crypto';
import mongoose, { Connection } from 'mongoose';
import { describeWithServices, serviceUrl } from '@app/testing';
import { MongoHistoryStore } from '../src/history/persistence/mongo-history.store';
import {
  MongoChatMessage,
  MongoChatMessageSchema,
} from '../src/history/schemas/mongo-chat-message.schema';
import {
  MongoChatSession,
  MongoChatSessionSchema,
} from '../src/history/schemas/mongo-chat-session.schema';
import { historyStoreContract, HistoryStoreHarness } from './history-store.contract';

/** A MongoHistoryStore on a new database (random name) of TEST_MONGO_URI, dropped afterwards. */
async function openMongoHistoryStore(): Promise<
  HistoryStoreHarness & { connection: Connection; store: MongoHistoryStore }
> {
  const connection = await mongoose
    .createConnection(serviceUrl('mongo')!, {
      dbName: `history_test_${randomBytes(6).toString('hex')}`,
      serverSelectionTimeoutMS: 5_000,
    })
    .asPromise();
  const store = new MongoHistoryStore(
    connection.model(MongoChatSession.name, MongoChatSessionSchema),
    connection.model(MongoChatMessage.name, MongoChatMessageSchema),
  );
  await store.onModuleInit();
  return {
    store,
    connection,
    createUser: async () => randomBytes(16).toString('hex'),
    close: async () => {
      await connection.dropDatabase();
      await connection.close();
    },
  };
}

describeWithServices(
  ['mongo'],
  'HistoryStore contract: MongoHistoryStore (MongoDB / FerretDB)',
  () => {
    historyStoreContract(openMongoHistoryStore);

    describe('indexes', () => {
      let harness: Awaited<ReturnType<typeof openMongoHistoryStore>>;
      beforeAll(async () => {
        harness = await openMongoHistoryStore();
      });
      afterAll(() => harness.close());

      it('creates the session-list index and the unique (sessionId, seq) index', async () => {
        const sessionIndexes = await harness.connection.collection('chat_sessions').indexes();
        const messageIndexes = await harness.connection.collection('chat_messages').indexes();
        expect(sessionIndexes.map((i) => i.key)).toContainEqual({
          userId: 1,
          updatedAt: -1,
          _id: -1,
        });
        expect(messageIndexes).toContainEqual(
          expect.objectContaining({ key: { sessionId: 1, seq: 1 }, unique: true }),
        );
        expect(messageIndexes.map((i) => i.key)).toContainEqual({ userId: 1, sessionId: 1 });
      });

      it('makes the database itself refuse a second message with the same seq', async () => {
        const session = await harness.store.createSession(await harness.createUser());
        const first = await harness.store.appendMessage(session.id, {
          role: 'user',
          content: 'one',
          status: 'complete',
        });
        const duplicate = { ...first, _id: 'another-id', id: undefined, userId: 'u' };
        const error = await harness.connection
          .collection('chat_messages')
          .insertOne(duplicate as never)
          .catch((e: unknown) => e);
        expect(error).toMatchObject({ code: 11000 });
      });
    });

    describe('sessions written before the message tree', () => {
      let harness: Awaited<ReturnType<typeof openMongoHistoryStore>>;
      beforeAll(async () => {
        harness = await openMongoHistoryStore();
      });
      afterAll(() => harness.close());

      it('become one chain in seq order at start-up, their newest message the active leaf', async () => {
        const userId = await harness.createUser();
        const at = new Date('2026-01-01T00:00:00Z');
        // Documents exactly as the previous schema wrote them: no parentId, no activeLeafId.
        const legacy = { userId, title: 'Old chat', createdAt: at, updatedAt: at };
        await harness.connection.collection('chat_sessions').insertMany([
          { _id: 'flat-session', ...legacy, messageCount: 3, lastMessage: 'm3' },
          { _id: 'empty-session', ...legacy, messageCount: 0, lastMessage: null },
        ] as never[]);
        await harness.connection.collection('chat_messages').insertMany(
          [3, 1, 2].map((seq) => ({
            _id: `m${seq}`,
            sessionId: 'flat-session',
            userId,
            seq,
            role: seq % 2 ? 'user' : 'assistant',
            content: `m${seq}`,
            status: 'complete',
            createdAt: at,
          })) as never[],
        );

        expect(await harness.store.migrateFlatSessions()).toBe(2);

        const { store } = harness;
        expect(await store.listTreeNodes('flat-session')).toEqual([
          { id: 'm1', parentId: null, seq: 1 },
          { id: 'm2', parentId: 'm1', seq: 2 },
          { id: 'm3', parentId: 'm2', seq: 3 },
        ]);
        expect(await store.getSession(userId, 'flat-session')).toMatchObject({
          activeLeafId: 'm3',
          messageCount: 3,
          lastMessage: 'm3',
        });
        expect((await store.getSession(userId, 'empty-session'))?.activeLeafId).toBeNull();
        // Nothing was lost, and a second run has nothing left to do.
        expect((await store.listMessages('flat-session', { page: 1, perPage: 10 })).total).toBe(3);
        expect(await harness.store.migrateFlatSessions()).toBe(0);
        const next = await store.appendMessage('flat-session', {
          role: 'user',
          content: 'm4',
          status: 'complete',
        });
        expect(next).toMatchObject({ seq: 4, parentId: 'm3' });
      });
    });
  },
);
