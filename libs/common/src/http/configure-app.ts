import type { NestExpressApplication } from '@nestjs/platform-express';
import { SwaggerModule } from '@nestjs/swagger';
import helmet from 'helmet';
import type { AppConfig } from '@app/config';
import { HttpExceptionFilter } from '../errors/http-exception.filter';
import { answerClientErrorsWithJson } from './client-errors';
import { corsSettings } from './cors-policy';
import { rejectDeepJsonBodies } from './json-depth';
import { createOpenApiDocument } from './openapi-document';
import { createValidationPipe } from './validation.pipe';

/**
 * Everything main.ts and the test app factory both apply, so tests run the app exactly as
 * production does: proxy trust, security headers, CORS, body limits, validation, error shape, docs.
 */
export function configureApp(app: NestExpressApplication, config: AppConfig): void {
  app.set('trust proxy', config.http.trustProxy);
  answerClientErrorsWithJson(app.getHttpServer());
  app.disable('x-powered-by');
  app.use(
    helmet({
      // Swagger UI and the bundled web client use inline bootstrapping scripts and styles.
      contentSecurityPolicy: {
        directives: {
          'script-src': ["'self'", "'unsafe-inline'"],
          'style-src': ["'self'", "'unsafe-inline'"],
          'connect-src': ["'self'", 'ws:', 'wss:'],
          // Attachment thumbnails are fetched with the bearer token and shown as blob: URLs.
          'img-src': ["'self'", 'data:', 'blob:'],
          // Operators terminate TLS in front of the app; plain-HTTP local use must keep working.
          'upgrade-insecure-requests': null,
        },
      },
    }),
  );
  // Without CORS_ORIGINS: same-origin only, no CORS headers (the served chat page needs none).
  const cors = corsSettings(config.http.corsOrigins);
  if (cors) app.enableCors(cors);
  app.useBodyParser('json', { limit: config.http.bodyLimit });
  // `extended: false` parses forms flat (no `a[b][c]` nesting), so only JSON can be too deep.
  app.useBodyParser('urlencoded', { limit: config.http.bodyLimit, extended: false });
  app.use(rejectDeepJsonBodies);
  app.useGlobalFilters(new HttpExceptionFilter());
  app.useGlobalPipes(createValidationPipe());
  // SIGTERM/SIGINT: close gracefully (streams get SHUTDOWN_GRACE_MS), then exit 0 — a clean stop
  // for systemd and Docker, instead of re-raising the signal after close.
  app.enableShutdownHooks(undefined, { useProcessExit: true });

  if (config.http.docsEnabled) {
    const document = createOpenApiDocument(app);
    SwaggerModule.setup('docs', app, document, {
      jsonDocumentUrl: 'docs-json',
      swaggerOptions: { persistAuthorization: true },
    });
  }
}
