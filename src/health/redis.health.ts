import { Injectable, Optional } from '@nestjs/common';
import { HealthIndicatorResult, HealthIndicatorService } from '@nestjs/terminus';
import type Redis from 'ioredis';
import { RedisConnections } from '../redis/redis-connections';

/**
 * Readiness of Redis (`REDIS_URL`): a PING on a dedicated connection with a short deadline.
 * The connection is opened at start-up and reconnects on its own; while it is down a PING
 * fails at once (no offline queue), so /health/ready answers 503 quickly. Down messages are
 * fixed strings: the URL (which may hold a password) never reaches a response.
 */
@Injectable()
export class RedisHealthIndicator {
  private readonly client?: Redis;

  constructor(
    private readonly indicators: HealthIndicatorService,
    @Optional() redis?: RedisConnections,
  ) {
    this.client = redis?.dedicated('health', {
      connectionName: 'chatbot-health',
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      connectTimeout: 2_000,
      // ioredis waits this long for a socket that is already gone (Redis down) before closing.
      disconnectTimeout: 200,
      retryStrategy: (attempt) => Math.min(attempt * 200, 2_000),
    });
  }

  /** True when REDIS_URL is set, i.e. Redis is part of readiness. */
  get enabled(): boolean {
    return this.client !== undefined;
  }

  async pingCheck(key: string, timeoutMs = 1_000): Promise<HealthIndicatorResult> {
    const check = this.indicators.check(key);
    if (!this.client) return check.down({ message: 'REDIS_URL is not configured' });
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), timeoutMs);
    });
    try {
      const answer = await Promise.race([this.client.ping(), timeout]);
      if (answer === 'timeout') {
        return check.down({ message: `Redis did not answer PING within ${timeoutMs} ms` });
      }
      return check.up();
    } catch {
      return check.down({ message: 'Redis is unreachable' });
    } finally {
      clearTimeout(timer);
    }
  }
}
