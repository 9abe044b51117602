import { Controller, Get, Header, UseGuards } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { SkipThrottle } from '@nestjs/throttler';
import { Registry } from 'prom-client';
import { ApiErrorResponse } from '@app/common';
import { MetricsService } from './metrics.service';
import { MetricsTokenGuard } from './metrics-token.guard';

const EXAMPLE = [
  '# HELP chatbot_http_request_duration_seconds HTTP request duration by method, matched route template and status code.',
  '# TYPE chatbot_http_request_duration_seconds histogram',
  'chatbot_http_request_duration_seconds_bucket{le="0.005",method="GET",route="/health/live",status="200"} 3',
  '# HELP chatbot_active_streams Chat replies currently being streamed, by transport.',
  '# TYPE chatbot_active_streams gauge',
  'chatbot_active_streams{transport="sse"} 0',
].join('\n');

/** Prometheus scrape endpoint; outside `/api`, never rate limited (scrapers poll it). */
@ApiTags('operations')
@SkipThrottle()
@Controller('metrics')
export class MetricsController {
  constructor(private readonly metrics: MetricsService) {}

  @Get()
  @UseGuards(MetricsTokenGuard)
  @Header('Content-Type', Registry.PROMETHEUS_CONTENT_TYPE)
  @Header('Cache-Control', 'no-store')
  @ApiOperation({
    summary: 'Prometheus metrics (text exposition format)',
    description:
      'Process metrics plus `chatbot_*` series (HTTP latency by route template, active streams and sockets, ' +
      'provider latency, errors, retries, fallbacks, tokens, throttled requests). Absent (404) when ' +
      '`METRICS_ENABLED=false`. When `METRICS_TOKEN` is set, send `Authorization: Bearer <METRICS_TOKEN>` ' +
      '(this token, not a user JWT).',
  })
  // No security requirement: the route is open unless the operator sets METRICS_TOKEN, and that
  // token is not the user JWT of the `bearer` scheme (the description says how to send it).
  @ApiOkResponse({
    description: 'Prometheus text format 0.0.4',
    content: { 'text/plain': { schema: { type: 'string', example: EXAMPLE } } },
  })
  @ApiErrorResponse(401, 'METRICS_TOKEN is set and the bearer token is missing or wrong', {
    detail: 'A valid metrics token is required',
  })
  scrape(): Promise<string> {
    return this.metrics.metrics();
  }
}
