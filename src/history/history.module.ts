import { DynamicModule, Global, Module, Provider } from '@nestjs/common';
import { MongooseModule } from '@nestjs/mongoose';
import { TypeOrmModule } from '@nestjs/typeorm';
import type { AppConfig } from '@app/config';
import { AccessTokenModule } from '../auth/access-token.module';
import { ChatMessage } from './entities/chat-message.entity';
import { ChatSession } from './entities/chat-session.entity';
import { HistoryController } from './history.controller';
import { HistoryService } from './history.service';
import { HISTORY_STORE } from './history-store.interface';
import { MongoHistoryStore } from './mongo-history.store';
import { MongoHealthIndicator } from './mongo.health';
import { MongoChatMessage, MongoChatMessageSchema } from './schemas/mongo-chat-message.schema';
import { MongoChatSession, MongoChatSessionSchema } from './schemas/mongo-chat-session.schema';
import { SqlHistoryStore } from './sql-history.store';

/**
 * Chat history behind the HISTORY_STORE token: SqlHistoryStore in the main database (default)
 * or MongoHistoryStore when HISTORY_STORE=mongo. Global, so ChatModule and UsersModule inject
 * HISTORY_STORE / HistoryService without importing it. With Mongo it also provides
 * MongoHealthIndicator, which /health/ready then includes.
 */
@Global()
@Module({})
export class HistoryModule {
  static forRoot(config: AppConfig): DynamicModule {
    const mongo = config.historyStore === 'mongo';
    const storeClass = mongo ? MongoHistoryStore : SqlHistoryStore;
    const store: Provider = { provide: HISTORY_STORE, useExisting: storeClass };
    const persistence = mongo
      ? [
          MongooseModule.forRoot(config.mongoUri!, {
            // Fail start-up (and readiness) within seconds rather than hang on a dead server.
            serverSelectionTimeoutMS: 5_000,
          }),
          MongooseModule.forFeature([
            { name: MongoChatSession.name, schema: MongoChatSessionSchema },
            { name: MongoChatMessage.name, schema: MongoChatMessageSchema },
          ]),
        ]
      : [TypeOrmModule.forFeature([ChatSession, ChatMessage])];
    const health = mongo ? [MongoHealthIndicator] : [];
    return {
      module: HistoryModule,
      global: true,
      imports: [AccessTokenModule, ...persistence],
      controllers: [HistoryController],
      providers: [storeClass, store, HistoryService, ...health],
      exports: [HISTORY_STORE, HistoryService, ...health],
    };
  }
}
