import type { ThrottlerModuleOptions } from '@nestjs/throttler';
import { ThrottlerStorageRedisService } from '@nest-lab/throttler-storage-redis';
import type { Request } from 'express';
import type Redis from 'ioredis';
import { failFastAfterFirstConnect } from '@app/common';
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
    storage: config.redisUrl ? redisStorage(config.redisUrl) : undefined,
  };
}

/**
 * Counters in Redis. Once connected, commands fail at once while Redis is unreachable, so the
 * guard (and the login lock) fail open immediately instead of holding each request until a
 * reconnection attempt gives up. Connection errors are reported by the guard, rate-limited.
 */
function redisStorage(url: string): ThrottlerStorageRedisService {
  const storage = new ThrottlerStorageRedisService(url, { maxRetriesPerRequest: 1 });
  failFastAfterFirstConnect(storage.redis as Redis);
  storage.redis.on('error', () => undefined);
  return storage;
}
