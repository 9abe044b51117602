import { DynamicModule, Global, Module } from '@nestjs/common';
import { RedisConnections } from './redis-connections';

/**
 * The Redis connections of the app (global). With REDIS_URL set it provides RedisConnections;
 * without it provides nothing, and consumers inject it as optional and keep their state in
 * process.
 */
@Global()
@Module({})
export class RedisModule {
  static forRoot(redisUrl: string | undefined): DynamicModule {
    if (!redisUrl) return { module: RedisModule };
    return {
      module: RedisModule,
      providers: [{ provide: RedisConnections, useFactory: () => new RedisConnections(redisUrl) }],
      exports: [RedisConnections],
    };
  }
}
