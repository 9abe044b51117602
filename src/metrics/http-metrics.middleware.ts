import { Injectable, NestMiddleware } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import { MetricsService } from './metrics.service';

/** Route label of requests that matched no route (404s, scans): one series, not one per URL. */
export const UNMATCHED_ROUTE = 'unmatched';

/**
 * Times every HTTP request and records it under its matched route template
 * (`/api/history/:session_id`), never the raw URL, so the label set stays small. 429 answers
 * also count in `chatbot_throttled_requests_total{scope="http"}`.
 */
@Injectable()
export class HttpMetricsMiddleware implements NestMiddleware {
  constructor(private readonly metrics: MetricsService) {}

  use(req: Request, res: Response, next: NextFunction): void {
    const started = process.hrtime.bigint();
    let recorded = false;
    const record = () => {
      if (recorded) return;
      recorded = true;
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      this.metrics.observeHttp(req.method, routeTemplate(req), res.statusCode, seconds);
      if (res.statusCode === 429) this.metrics.throttled('http');
    };
    // 'finish' when the response was fully sent; 'close' alone when the client went away first.
    res.once('finish', record);
    res.once('close', record);
    next();
  }
}

interface ExpressRoute {
  path?: unknown;
  methods?: Record<string, boolean>;
}

/**
 * The Express route pattern that handled `req`, or `unmatched`. Express leaves `req.route` at
 * the last route layer that matched. Nest binds middleware with `app.all('/{*path}')`, which
 * Express 5 turns into a route for every method; controller routes are registered for exactly
 * one method. So a route with several methods is middleware, and the request reached no
 * controller (a 404, or a refusal by a Nest middleware).
 */
export function routeTemplate(req: Request): string {
  const route = req.route as ExpressRoute | undefined;
  if (!route || typeof route.path !== 'string') return UNMATCHED_ROUTE;
  if (Object.keys(route.methods ?? {}).length > 1) return UNMATCHED_ROUTE;
  const path = `${req.baseUrl ?? ''}${route.path}`;
  return path.length > 1 ? path.replace(/\/+$/, '') : path;
}
