import { describeWithServices } from '@app/testing';
import { historyStoreContract } from './history-store.contract';
import { openSqlHistoryStore } from './history-store.sql';

describeWithServices(['postgres'], 'HistoryStore contract: PostgresHistoryStore', () => {
  historyStoreContract(() => openSqlHistoryStore('postgres'), { chunksCheckpoints: true });
});
