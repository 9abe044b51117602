import type { INestApplication } from '@nestjs/common';
import { DocumentBuilder, SwaggerModule, type OpenAPIObject } from '@nestjs/swagger';
import type { SchemaObject } from '@nestjs/swagger/dist/interfaces/open-api-spec.interface';
import { MAX_HEADER_KIB } from './client-errors';

/** Title, description and the user bearer scheme of the OpenAPI document. */
function buildOpenApiConfig() {
  return new DocumentBuilder()
    .setTitle('Nest Chatbot API')
    .setDescription(
      'Chat-bot backend: JWT auth, pluggable LLM providers, streamed replies (SSE, Socket.IO, WebSocket) and history. ' +
        'Every error body is `{"detail": "..."}`; validation errors add `errors: [{field, message}]`.',
    )
    .setVersion('0.1.0')
    .addBearerAuth({ type: 'http', scheme: 'bearer', bearerFormat: 'JWT' }, 'bearer')
    .addGlobalResponse({
      status: 431,
      description: `Request line and headers over ${MAX_HEADER_KIB} KiB (e.g. a very long URL)`,
      schema: {
        type: 'object',
        properties: { detail: { type: 'string' } },
        required: ['detail'],
      },
    })
    .build();
}

/** The OpenAPI document /docs-json serves and the Postman generator reads. */
export function createOpenApiDocument(app: INestApplication): OpenAPIObject {
  const document = SwaggerModule.createDocument(app, buildOpenApiConfig());
  closeRequestBodySchemas(document);
  return document;
}

/**
 * The global ValidationPipe rejects any field a DTO does not declare (400), so every request-body
 * schema is closed: `additionalProperties: false`, which @nestjs/swagger cannot set per class.
 */
function closeRequestBodySchemas(document: OpenAPIObject): void {
  const schemas = document.components?.schemas ?? {};
  for (const pathItem of Object.values(document.paths)) {
    for (const operation of Object.values(pathItem)) {
      const content = (operation as { requestBody?: { content?: object } }).requestBody?.content;
      for (const media of Object.values(content ?? {}) as { schema?: { $ref?: string } }[]) {
        const name = media.schema?.$ref?.replace('#/components/schemas/', '');
        const schema = name ? (schemas[name] as SchemaObject | undefined) : undefined;
        if (schema) schema.additionalProperties = false;
      }
    }
  }
}
