import { Inject, Logger, Module, OnApplicationShutdown } from '@nestjs/common';
import Redis from 'ioredis';
import { failFastAfterFirstConnect } from '@app/common';
import { AppConfig } from '@app/config';
import { AccessTokenModule } from '../auth/access-token.module';
import { ModelsController } from './models.controller';
import { ProviderRegistry } from './provider-registry';
import { ProvidersService } from './providers.service';
import { QuotaService } from './quota.service';
import { MemoryQuotaStore, QUOTA_STORE, type QuotaStore } from './quota/quota-store';
import { RedisQuotaStore } from './quota/redis-quota-store';
import { ResilientExecutor } from './resilience/resilient-executor';

/**
 * LLM providers behind one resilient facade (ProvidersService), per-user quotas
 * (QuotaService; counters in Redis when REDIS_URL is set) and GET /api/models.
 */
@Module({
  imports: [AccessTokenModule],
  controllers: [ModelsController],
  providers: [
    ProviderRegistry,
    ResilientExecutor,
    ProvidersService,
    QuotaService,
    {
      provide: QUOTA_STORE,
      inject: [AppConfig],
      useFactory: (config: AppConfig): QuotaStore => {
        if (!config.redisUrl) return new MemoryQuotaStore();
        // Once connected, a quota check during a Redis outage fails at once and QuotaService
        // lets the request through, instead of waiting for reconnection attempts.
        const redis = failFastAfterFirstConnect(
          new Redis(config.redisUrl, { maxRetriesPerRequest: 2 }),
        );
        const logger = new Logger('QuotaService');
        redis.on('error', (error: Error) => logger.warn(`Redis: ${error.message}`));
        return new RedisQuotaStore(redis);
      },
    },
  ],
  exports: [ProvidersService, QuotaService],
})
export class ProvidersModule implements OnApplicationShutdown {
  constructor(@Inject(QUOTA_STORE) private readonly quotaStore: QuotaStore) {}

  async onApplicationShutdown(): Promise<void> {
    await this.quotaStore.close?.();
  }
}
