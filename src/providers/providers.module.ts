import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AccessTokenModule } from '../auth/access-token.module';
import { RedisConnections } from '../redis/redis-connections';
import { UsageModule } from '../usage/usage.module';
import { ModelsController } from './models.controller';
import { ProviderRegistry } from './provider-registry';
import { ProvidersService } from './providers.service';
import { QuotaService } from './quota.service';
import { MemoryQuotaStore, QUOTA_STORE, type QuotaStore } from './quota/quota-store';
import { RedisQuotaStore } from './quota/redis-quota-store';
import { UserQuotaOverrides } from './quota/user-quota-overrides';
import { User } from '../users/entities/user.entity';
import { ProviderCallRecorder } from './resilience/provider-call-recorder';
import { ResilientExecutor } from './resilience/resilient-executor';

/**
 * LLM providers behind one resilient facade (ProvidersService), per-user quotas
 * (QuotaService; counters in Redis when REDIS_URL is set) and GET /api/models.
 */
@Module({
  imports: [AccessTokenModule, UsageModule, TypeOrmModule.forFeature([User])],
  controllers: [ModelsController],
  providers: [
    ProviderRegistry,
    ProviderCallRecorder,
    ResilientExecutor,
    ProvidersService,
    QuotaService,
    UserQuotaOverrides,
    {
      provide: QUOTA_STORE,
      inject: [{ token: RedisConnections, optional: true }],
      // During a Redis outage a quota check fails at once and QuotaService lets the request through.
      useFactory: (redis?: RedisConnections): QuotaStore =>
        redis ? new RedisQuotaStore(redis.commands) : new MemoryQuotaStore(),
    },
  ],
  exports: [ProvidersService, QuotaService, ProviderRegistry],
})
export class ProvidersModule {}
