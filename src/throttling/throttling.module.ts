import { Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { ThrottlerModule } from '@nestjs/throttler';
import { AppConfig } from '@app/config';
import { AccessTokenModule } from '../auth/access-token.module';
import { RedisConnections } from '../redis/redis-connections';
import { AppThrottlerGuard } from './app-throttler.guard';
import { LoginFailureLimiter } from './login-failure-limiter';
import { buildThrottlerOptions } from './throttler-options';

/**
 * Global HTTP rate limiting (APP_GUARD) and the per-account login-failure lock. ThrottlerModule
 * is global, so `@InjectThrottlerStorage()` gives every module the same (memory or Redis) storage.
 */
@Module({
  imports: [
    AccessTokenModule,
    ThrottlerModule.forRootAsync({
      inject: [AppConfig, { token: RedisConnections, optional: true }],
      useFactory: buildThrottlerOptions,
    }),
  ],
  providers: [LoginFailureLimiter, { provide: APP_GUARD, useClass: AppThrottlerGuard }],
  exports: [LoginFailureLimiter],
})
export class ThrottlingModule {}
