import { Controller, Get, Optional, Res, ServiceUnavailableException } from '@nestjs/common';
import {
  ApiOkResponse,
  ApiOperation,
  ApiServiceUnavailableResponse,
  ApiTags,
} from '@nestjs/swagger';
import {
  HealthCheck,
  HealthCheckResult,
  HealthCheckService,
  HealthIndicatorFunction,
  TypeOrmHealthIndicator,
} from '@nestjs/terminus';
import type { Response } from 'express';
import { RedisHealthIndicator } from './redis.health';
import { MongoHealthIndicator } from '../history/mongo.health';

/** The 503 readiness body: the API's `{detail}` plus terminus' per-dependency breakdown. */
export type NotReadyBody = HealthCheckResult & { detail: string };

@ApiTags('health')
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly db: TypeOrmHealthIndicator,
    private readonly redis: RedisHealthIndicator,
    /** Present only when HISTORY_STORE=mongo (provided by HistoryModule). */
    @Optional() private readonly mongo?: MongoHealthIndicator,
  ) {}

  @Get('live')
  @ApiOperation({ summary: 'Liveness: the process is up and serving HTTP' })
  @ApiOkResponse({ schema: { example: { status: 'ok' } } })
  live(): { status: 'ok' } {
    return { status: 'ok' };
  }

  @Get('ready')
  @HealthCheck()
  @ApiOperation({ summary: 'Readiness: the database (and Mongo, Redis when configured) answer' })
  @ApiServiceUnavailableResponse({
    description: 'A dependency is down',
    schema: {
      example: {
        detail: 'Not ready: redis is down',
        status: 'error',
        info: { database: { status: 'up' } },
        error: { redis: { status: 'down', message: 'Redis is unreachable' } },
        details: {
          database: { status: 'up' },
          redis: { status: 'down', message: 'Redis is unreachable' },
        },
      },
    },
  })
  async ready(
    @Res({ passthrough: true }) res: Response,
  ): Promise<HealthCheckResult | NotReadyBody> {
    const checks: HealthIndicatorFunction[] = [
      () => this.db.pingCheck('database', { timeout: 2_000 }),
    ];
    if (this.redis.enabled) checks.push(() => this.redis.pingCheck('redis'));
    const mongo = this.mongo;
    if (mongo) checks.push(() => mongo.pingCheck('mongo'));
    try {
      return await this.health.check(checks);
    } catch (error) {
      if (!(error instanceof ServiceUnavailableException)) throw error;
      // Answered here rather than by the global filter, which would keep only a generic detail.
      const result = error.getResponse() as HealthCheckResult;
      const down = Object.keys(result.error ?? {});
      const detail = down.length
        ? `Not ready: ${down.join(', ')} ${down.length > 1 ? 'are' : 'is'} down`
        : 'Not ready: shutting down';
      res.status(503);
      return { detail, ...result };
    }
  }
}
