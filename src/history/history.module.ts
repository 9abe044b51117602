import { DynamicModule, Module } from '@nestjs/common';
import type { AppConfig } from '@app/config';
import { AccessTokenModule } from '../auth/access-token.module';
import { FilesModule } from '../files/files.module';
import { PresetsModule } from '../presets/presets.module';
import { ProvidersModule } from '../providers/providers.module';
import { HistoryController } from './history.controller';
import { HistoryService } from './history.service';
import { MongoHealthIndicator } from './mongo.health';
import { MongoPersistenceModule } from './persistence/mongo-persistence.module';
import { SqlPersistenceModule } from './persistence/sql-persistence.module';

/**
 * Chat history: HistoryService and the history API over the store of the configured backend.
 * Global because the backend is chosen once, from the app's configuration. It exports
 * HistoryService and, with Mongo, the readiness check (/health/ready) — never the store itself.
 */
@Module({})
export class HistoryModule {
  static forRoot(config: AppConfig): DynamicModule {
    const mongo = config.historyStore === 'mongo';
    const persistence = mongo
      ? MongoPersistenceModule.forRoot(config.mongoUri!)
      : SqlPersistenceModule.forRoot(config.database.type);
    const health = mongo ? [MongoHealthIndicator] : [];
    return {
      module: HistoryModule,
      global: true,
      imports: [AccessTokenModule, ProvidersModule, PresetsModule, FilesModule, persistence],
      controllers: [HistoryController],
      providers: [HistoryService, ...health],
      exports: [HistoryService, ...health],
    };
  }
}
