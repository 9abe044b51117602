import type { ThrottlerModuleOptions } from '@nestjs/throttler';
import { ThrottlerStorageRedisService } from '@nest-lab/throttler-storage-redis';
import type { Request } from 'express';
import type { AppConfig } from '@app/config';
import { hasAuthRateLimit } from './auth-rate-limit.decorator';
import { clientIp } from './client-ip';

const MINUTE_MS = 60_000;

/**
 * Two throttlers: `default` (every route, per user when a valid bearer is present, else per IP)
 * and `auth` (only routes marked @AuthRateLimit, per IP). Counters live in Redis when REDIS_URL
 * is set, so that every instance shares them; otherwise in process memory.
 */
export function buildThrottlerOptions(config: AppConfig): ThrottlerModuleOptions {
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
    storage: config.redisUrl
      ? // One retry per command: when Redis is unreachable the guard fails open quickly.
        new ThrottlerStorageRedisService(config.redisUrl, { maxRetriesPerRequest: 1 })
      : undefined,
  };
}
