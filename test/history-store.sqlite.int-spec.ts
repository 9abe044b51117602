import { historyStoreContract } from './history-store.contract';
import { openSqlHistoryStore } from './history-store.sql';

describe('HistoryStore contract: SqliteHistoryStore', () => {
  historyStoreContract(() => openSqlHistoryStore('sqlite'), { chunksCheckpoints: true });
});
