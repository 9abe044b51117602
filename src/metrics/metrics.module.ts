import { DynamicModule, Global, MiddlewareConsumer, Module, NestModule } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { AppConfig } from '@app/config';
import { HttpMetricsMiddleware } from './http-metrics.middleware';
import { MetricsController } from './metrics.controller';
import { MetricsService } from './metrics.service';

/**
 * Global: any module can inject MetricsService without importing this one. `forRoot(config)`
 * adds `GET /metrics` unless `METRICS_ENABLED=false` (then the route does not exist: 404).
 */
@Global()
@Module({
  providers: [MetricsService, HttpMetricsMiddleware],
  exports: [MetricsService],
})
export class MetricsModule implements NestModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: MetricsModule,
      controllers: config.metrics.enabled ? [MetricsController] : [],
    };
  }

  private readonly attachedEarly: boolean;

  /**
   * Under NestFactory.create (main.ts, tests' startTestApp) the timing middleware goes on the
   * Express app while Nest is still instantiating providers, i.e. before configureApp() adds
   * helmet and the body parsers and before Nest's own middleware and routes. So every response
   * is timed, including those refused before any controller: 400/413 from the body parser,
   * 401/429 from guards, 404s.
   */
  constructor(
    adapterHost: HttpAdapterHost,
    private readonly middleware: HttpMetricsMiddleware,
  ) {
    const adapter = adapterHost.httpAdapter;
    this.attachedEarly = adapter !== undefined && adapter !== null;
    if (this.attachedEarly) adapter.use(middleware.use.bind(middleware));
  }

  /** Test.createTestingModule() attaches the adapter later: fall back to Nest middleware. */
  configure(consumer: MiddlewareConsumer): void {
    if (!this.attachedEarly) consumer.apply(HttpMetricsMiddleware).forRoutes('*');
  }
}
