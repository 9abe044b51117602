import { DynamicModule, Module } from '@nestjs/common';
import { LoggerModule } from 'nestjs-pino';
import { AppConfig } from '@app/config';
import { buildLoggerOptions } from '@app/common';
import { AppConfigModule } from './config/app-config.module';
import { AdminModule } from './admin/admin.module';
import { ApiKeysModule } from './api-keys/api-keys.module';
import { AuthModule } from './auth/auth.module';
import { ChatModule } from './chat/chat.module';
import { DatabaseModule } from './database/database.module';
import { FilesModule } from './files/files.module';
import { HealthModule } from './health/health.module';
import { HistoryModule } from './history/history.module';
import { MetricsModule } from './metrics/metrics.module';
import { OpenAiModule } from './openai/openai.module';
import { PresetsModule } from './presets/presets.module';
import { ProvidersModule } from './providers/providers.module';
import { RedisModule } from './redis/redis.module';
import { UsageModule } from './usage/usage.module';
import { UsersModule } from './users/users.module';
import { WebModule } from './web/web.module';

@Module({})
export class AppModule {
  /** The whole application for one validated configuration (main.ts and tests build it the same way). */
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [
        AppConfigModule.forRoot(config),
        LoggerModule.forRoot(buildLoggerOptions(config)),
        DatabaseModule.forRoot(config.database),
        RedisModule.forRoot(config.redisUrl),
        HealthModule,
        AuthModule,
        ApiKeysModule,
        UsersModule,
        FilesModule,
        HistoryModule.forRoot(config),
        MetricsModule.forRoot(config),
        ProvidersModule,
        PresetsModule,
        UsageModule,
        ChatModule,
        OpenAiModule,
        AdminModule,
        WebModule.forRoot(config),
      ],
    };
  }
}
