import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { AppConfig, buildDataSourceOptions } from '@app/config';
import { baseTestEnv, createTestDatabase } from '@app/testing';
import { ChatMessage } from '../src/history/entities/chat-message.entity';
import { ChatSession } from '../src/history/entities/chat-session.entity';
import { PostgresHistoryStore } from '../src/history/persistence/postgres-history.store';
import { SqliteHistoryStore } from '../src/history/persistence/sqlite-history.store';
import { User } from '../src/users/entities/user.entity';
import type { HistoryStoreHarness } from './history-store.contract';

/** The SQL store of `kind` on a fresh database, schema built by the real migrations. */
export async function openSqlHistoryStore(
  kind: 'sqlite' | 'postgres',
): Promise<HistoryStoreHarness> {
  const database = await createTestDatabase(kind);
  const config = AppConfig.fromEnv({ ...baseTestEnv(), DATABASE_URL: database.url });
  const dataSource = new DataSource(buildDataSourceOptions(config.database));
  await dataSource.initialize();
  const Store = kind === 'postgres' ? PostgresHistoryStore : SqliteHistoryStore;
  return {
    store: new Store(dataSource.getRepository(ChatSession), dataSource.getRepository(ChatMessage)),
    createUser: async () => {
      const id = randomUUID();
      await dataSource
        .getRepository(User)
        .insert({ id, email: `${id}@example.com`, passwordHash: 'not-a-real-hash' });
      return id;
    },
    close: async () => {
      await dataSource.destroy();
      await database.drop();
    },
  };
}
