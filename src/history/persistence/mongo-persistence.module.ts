import { DynamicModule, Module } from '@nestjs/common';
import { MongooseModule } from '@nestjs/mongoose';
import { HistoryStore } from '../history-store.interface';
import { MongoChatMessage, MongoChatMessageSchema } from '../schemas/mongo-chat-message.schema';
import { MongoChatSession, MongoChatSessionSchema } from '../schemas/mongo-chat-session.schema';
import { MongoHistoryStore } from './mongo-history.store';

/** The history store in MongoDB / FerretDB (HISTORY_STORE=mongo), on its own connection. */
@Module({})
export class MongoPersistenceModule {
  static forRoot(mongoUri: string): DynamicModule {
    return {
      module: MongoPersistenceModule,
      imports: [
        MongooseModule.forRoot(mongoUri, {
          // Fail start-up (and readiness) within seconds rather than hang on a dead server.
          serverSelectionTimeoutMS: 5_000,
        }),
        MongooseModule.forFeature([
          { name: MongoChatSession.name, schema: MongoChatSessionSchema },
          { name: MongoChatMessage.name, schema: MongoChatMessageSchema },
        ]),
      ],
      providers: [{ provide: HistoryStore, useClass: MongoHistoryStore }],
      exports: [HistoryStore],
    };
  }
}
