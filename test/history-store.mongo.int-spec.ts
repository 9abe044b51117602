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
async function openMongoHistoryStore(): Promise<HistoryStoreHarness & { connection: Connection }> {
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
  },
);
