import type { ThrottlerModuleOptions } from '@nestjs/throttler';
import { ThrottlerStorageRedisService } from '@nest-lab/throttler-storage-redis';
import type { Request } from 'express';
import type { AppConfig } from '@app/config';
import type { RedisConnections } from '../redis/redis-connections';
import { hasAuthRateLimit } from './auth-rate-limit.decorator';
import { clientIp } from './client-ip';
import { MemoryThrottlerStorage } from './memory-throttler-storage';

const MINUTE_MS = 60_000;

/**
 * Two throttlers: `default` (every route, per user when a valid bearer is present, else per IP)
 * and `auth` (only routes marked @AuthRateLimit, per IP). Counters live in Redis when REDIS_URL
 * is set (`redis`), so that every instance shares them; otherwise in process memory (the same
 * fixed windows, MemoryThrottlerStorage).
 */
export function buildThrottlerOptions(
  config: AppConfig,
  redis?: RedisConnections,
): ThrottlerModuleOptions {
  return {
    throttlers: [
      { name: 'default', ttl: MINUTE_MS, limit: config.rateLimit.defaultPerMinute },
      {
        name: 'auth',
        ttl: MINUTE_MS,
        limit: config.rateLimit.authPerMinute,
        skipIf: (context) => !hasAuthRateLimit(context),
        getTracker: (req) => `ip:${clientIp(req as Request)}`,
      },
    ],
    // On the shared command connection: while Redis is unreachable its commands fail at once,
    // so the guard (and the login lock) fail open immediately instead of holding each request.
    storage: redis
      ? new ThrottlerStorageRedisService(redis.commands)
      : new MemoryThrottlerStorage(),
  };
}
