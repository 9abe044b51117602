import { Controller, Get } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { ExecutionContextHost } from '@nestjs/core/helpers/execution-context-host';
import { ThrottlerStorageService, type ThrottlerModuleOptions } from '@nestjs/throttler';
import { ThrottlerStorageRedisService } from '@nest-lab/throttler-storage-redis';
import { AppConfig } from '@app/config';
import { RateLimitedError } from '@app/common';
import { expectedLogs } from '@app/testing/expected-logs';
import type { ApiKeyAuthenticator } from '../api-keys/api-key-authenticator';
import type { AccessTokenService } from '../auth/access-token.service';
import { RedisConnections } from '../redis/redis-connections';
import { AppThrottlerGuard } from './app-throttler.guard';
import { buildThrottlerOptions } from './throttler-options';

@Controller('things')
class ThingsController {
  @Get()
  list() {
    return [];
  }
}

/** An Express-shaped request/response pair for one anonymous call. */
function httpContext(path: string, ip = '192.0.2.1', type: 'http' | 'ws' = 'http') {
  const headers: Record<string, string | number> = {};
  const req = { ip, path, url: path, headers: {}, socket: {} };
  const res = { header: (name: string, value: string | number) => (headers[name] = value) };
  const context = new ExecutionContextHost(
    [req, res, () => undefined],
    ThingsController,
    ThingsController.prototype.list,
  );
  context.setType(type);
  return { context, headers };
}

function config(env: Record<string, string> = {}): AppConfig {
  return AppConfig.fromEnv({
    SECRET_KEY: 'k3Jq9vX2mW8pL5tR7yB4nC6dF1gH0sZa',
    RATE_LIMIT__DEFAULT_PER_MINUTE: '2',
    ...env,
  });
}

// No request below carries a bearer token, so the token service is never consulted.
const noTokens = null as unknown as AccessTokenService;
const noKeys = null as unknown as ApiKeyAuthenticator;

async function guardFor(options: ThrottlerModuleOptions): Promise<AppThrottlerGuard> {
  const storage =
    !Array.isArray(options) && options.storage ? options.storage : new ThrottlerStorageService();
  const guard = new AppThrottlerGuard(options, storage, new Reflector(), noTokens, noKeys);
  await guard.onModuleInit();
  return guard;
}

describe(AppThrottlerGuard.name, () => {
  it('allows N requests per client and then throws RateLimitedError with Retry-After', async () => {
    const sut = await guardFor(buildThrottlerOptions(config()));
    await expect(sut.canActivate(httpContext('/things').context)).resolves.toBe(true);
    await expect(sut.canActivate(httpContext('/things').context)).resolves.toBe(true);
    const error = await sut.canActivate(httpContext('/things').context).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RateLimitedError);
    expect((error as RateLimitedError).retryAfterSeconds).toBeGreaterThanOrEqual(59);
    expect((error as RateLimitedError).message).toMatch(
      /^Too many requests; retry in \d+ seconds$/,
    );
    // Another client is unaffected.
    await expect(sut.canActivate(httpContext('/things', '192.0.2.2').context)).resolves.toBe(true);
  });

  it('never limits health probes, metrics or non-HTTP contexts', async () => {
    const sut = await guardFor(buildThrottlerOptions(config()));
    for (let i = 0; i < 5; i++) {
      await expect(sut.canActivate(httpContext('/health/live').context)).resolves.toBe(true);
      await expect(sut.canActivate(httpContext('/metrics').context)).resolves.toBe(true);
      await expect(
        sut.canActivate(httpContext('/things', '192.0.2.9', 'ws').context),
      ).resolves.toBe(true);
    }
  });

  it('lets requests through when the Redis storage is unreachable', async () => {
    const unreachable = 'redis://127.0.0.1:1/0';
    const warnings = expectedLogs('warn');
    const redis = new RedisConnections(unreachable);
    const options = buildThrottlerOptions(config({ REDIS_URL: unreachable }), redis);
    expect(options).toEqual(
      expect.objectContaining({ storage: expect.any(ThrottlerStorageRedisService) }),
    );
    try {
      const sut = await guardFor(options);
      for (let i = 0; i < 3; i++) {
        await expect(sut.canActivate(httpContext('/things').context)).resolves.toBe(true);
      }
      expect(warnings.messages).toContain(
        'Rate-limit storage unavailable; letting requests through',
      );
    } finally {
      await redis.onApplicationShutdown();
      warnings.restore();
    }
  });
});
