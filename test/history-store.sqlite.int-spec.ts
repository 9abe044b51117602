import { historyStoreContract } from './history-store.contract';
import { openSqlHistoryStore } from './history-store.sql';

describe('HistoryStore contract: SqlHistoryStore on SQLite', () => {
  historyStoreContract(() => openSqlHistoryStore('sqlite'));
});
