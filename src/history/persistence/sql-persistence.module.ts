import { DynamicModule, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import type { DatabaseType } from '@app/config';
import { ChatMessage } from '../entities/chat-message.entity';
import { ChatSession } from '../entities/chat-session.entity';
import { HistoryStore } from '../history-store.interface';
import { PostgresHistoryStore } from './postgres-history.store';
import { SqliteHistoryStore } from './sqlite-history.store';

/** The history store in the app's own SQL database, on that database's dialect. */
@Module({})
export class SqlPersistenceModule {
  static forRoot(database: DatabaseType): DynamicModule {
    return {
      module: SqlPersistenceModule,
      imports: [TypeOrmModule.forFeature([ChatSession, ChatMessage])],
      providers: [
        {
          provide: HistoryStore,
          useClass: database === 'postgres' ? PostgresHistoryStore : SqliteHistoryStore,
        },
      ],
      exports: [HistoryStore],
    };
  }
}
