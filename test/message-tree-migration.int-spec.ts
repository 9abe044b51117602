import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { AppConfig, buildDataSourceOptions } from '@app/config';
import { baseTestEnv, createTestDatabase, describeWithServices, TestDatabase } from '@app/testing';
import { MIGRATIONS } from '../src/database/migrations';
import { MessageTree1765382400000 } from '../src/database/migrations/1765382400000-message-tree';
import { ChatMessage } from '../src/history/entities/chat-message.entity';
import { NO_SETTINGS } from '../src/history/history-store.interface';
import { ChatSession } from '../src/history/entities/chat-session.entity';
import { PostgresHistoryStore } from '../src/history/persistence/postgres-history.store';
import { SqliteHistoryStore } from '../src/history/persistence/sqlite-history.store';

/**
 * MessageTree1765382400000 on a database filled by the schema before it (every earlier migration): flat sessions become
 * one chain each, nothing is lost, and the stores carry on from the migrated tree.
 */
// The migrations before the tree: the schema it was written against.
const BEFORE_TREE = MIGRATIONS.slice(0, MIGRATIONS.indexOf(MessageTree1765382400000));
const LAST_BEFORE_TREE = BEFORE_TREE[BEFORE_TREE.length - 1].name;

function migrationSuite(kind: 'sqlite' | 'postgres'): void {
  let database: TestDatabase;
  let dataSource: DataSource;
  const userId = randomUUID();
  const flat = randomUUID();
  const empty = randomUUID();
  const ids = [randomUUID(), randomUUID(), randomUUID(), randomUUID()];

  const open = async (beforeTree: boolean) => {
    const config = AppConfig.fromEnv({ ...baseTestEnv(), DATABASE_URL: database.url });
    const options = buildDataSourceOptions(config.database);
    const source = new DataSource({
      ...options,
      migrationsRun: false,
      ...(beforeTree ? { migrations: BEFORE_TREE } : {}),
    });
    await source.initialize();
    return source;
  };

  beforeAll(async () => {
    database = await createTestDatabase(kind);
    // The previous schema, filled as it was written: four messages (seq 1–4), one empty session.
    const previous = await open(true);
    await previous.runMigrations();
    await previous.query(
      `INSERT INTO users (id, email, password_hash) VALUES ('${userId}', '${userId}@example.com', 'x')`,
    );
    for (const [id, count, last] of [
      [flat, 4, "'m4'"],
      [empty, 0, 'NULL'],
    ] as const) {
      await previous.query(
        'INSERT INTO chat_sessions (id, user_id, title, message_count, last_message) ' +
          `VALUES ('${id}', '${userId}', 'Old chat', ${count}, ${last})`,
      );
    }
    for (const [index, id] of ids.entries()) {
      const seq = index + 1;
      await previous.query(
        'INSERT INTO chat_messages (id, session_id, seq, role, content, status) ' +
          `VALUES ('${id}', '${flat}', ${seq}, '${seq % 2 ? 'user' : 'assistant'}', 'm${seq}', 'complete')`,
      );
    }
    await previous.destroy();

    dataSource = await open(false);
    await dataSource.runMigrations();
  });
  afterAll(async () => {
    await dataSource?.destroy();
    await database?.drop();
  });

  const store = () => {
    const Store = kind === 'postgres' ? PostgresHistoryStore : SqliteHistoryStore;
    return new Store(dataSource.getRepository(ChatSession), dataSource.getRepository(ChatMessage));
  };

  it('turns each flat session into one chain whose newest message is the active leaf', async () => {
    const history = store();
    expect(await history.listTreeNodes(flat)).toEqual([
      { id: ids[0], parentId: null, seq: 1 },
      { id: ids[1], parentId: ids[0], seq: 2 },
      { id: ids[2], parentId: ids[1], seq: 3 },
      { id: ids[3], parentId: ids[2], seq: 4 },
    ]);
    expect(await history.getSession(userId, flat)).toMatchObject({
      activeLeafId: ids[3],
      messageCount: 4,
      lastMessage: 'm4',
      title: 'Old chat',
      // Later migrations on the same rows: no settings of its own, no feedback.
      settings: NO_SETTINGS,
    });
    expect((await history.getSession(userId, empty))?.activeLeafId).toBeNull();
    const messages = await history.listMessages(flat, { page: 1, perPage: 10 });
    expect(messages.items.map((m) => m.content)).toEqual(['m1', 'm2', 'm3', 'm4']);
    expect(messages.items.every((m) => m.feedback === null)).toBe(true);
  });

  it('lets the store continue the chain and branch from it', async () => {
    const history = store();
    const [question, reply] = await history.appendMessages(flat, [
      { role: 'user', content: 'm5', status: 'complete' },
      { role: 'assistant', content: 'm6', status: 'complete' },
    ]);
    expect(question).toMatchObject({ seq: 5, parentId: ids[3] });
    expect(reply).toMatchObject({ seq: 6, parentId: question.id });
    const branch = await history.appendMessage(flat, {
      parentId: ids[1],
      role: 'user',
      content: 'edited m3',
      status: 'complete',
    });
    expect(branch).toMatchObject({ seq: 7, parentId: ids[1] });
  });

  it('can be reverted, keeping every message', async () => {
    // Back to the schema before the tree, undoing any later migration first.
    const newest = async () =>
      (
        await dataSource.query<{ name: string }[]>(
          'SELECT name FROM migrations ORDER BY timestamp DESC',
        )
      )[0].name;
    while ((await newest()) !== LAST_BEFORE_TREE) {
      await dataSource.undoLastMigration();
    }
    const rows = await dataSource.query('SELECT COUNT(*) AS n FROM chat_messages');
    expect(Number(rows[0].n)).toBe(7);
    await dataSource.runMigrations();
    // Run again on the reverted data: messages appended after it are chained by seq, too.
    expect((await store().listTreeNodes(flat)).map((n) => n.seq)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect((await store().getSession(userId, flat))?.activeLeafId).toBeTruthy();
  });
}

describe('MessageTree migration [sqlite]', () => migrationSuite('sqlite'));
describeWithServices(['postgres'], 'MessageTree migration [postgres]', () =>
  migrationSuite('postgres'),
);
