/**
 * Generates docs/postman_collection.json (Postman Collection v2.1) from the app's OpenAPI
 * document. The app is built in-process on a throw-away SQLite file and never listens.
 *
 *   npm run docs:postman             rewrite the collection
 *   npm run docs:postman -- --check  exit 1 when the committed collection is stale (CI)
 *
 * Requests use `{{baseUrl}}` and bearer `{{access_token}}`; login and refresh save the tokens,
 * chat requests save `session_id`, creating an API key saves `key_id`, so a Postman run works top
 * to bottom.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { OpenAPIObject } from '@nestjs/swagger';
import { createOpenApiDocument } from '@app/common';
import { AppConfig } from '@app/config';
import { createApp } from '../src/bootstrap';

const ROOT = join(__dirname, '..');
export const COLLECTION_PATH = join(ROOT, 'docs/postman_collection.json');
const SCHEMA_URL = 'https://schema.getpostman.com/json/collection/v2.1.0/collection.json';
const METHODS = ['get', 'post', 'put', 'patch', 'delete', 'head', 'options'] as const;

type Json = unknown;
interface Schema {
  $ref?: string;
  type?: string;
  format?: string;
  example?: Json;
  default?: Json;
  enum?: Json[];
  properties?: Record<string, Schema>;
  required?: string[];
  items?: Schema;
  allOf?: Schema[];
  oneOf?: Schema[];
  anyOf?: Schema[];
  nullable?: boolean;
  description?: string;
}
interface Parameter {
  $ref?: string;
  name: string;
  in: 'query' | 'header' | 'path' | 'cookie';
  required?: boolean;
  description?: string;
  example?: Json;
  schema?: Schema;
}
interface MediaType {
  schema?: Schema;
  example?: Json;
}
interface Operation {
  tags?: string[];
  summary?: string;
  description?: string;
  operationId?: string;
  parameters?: Parameter[];
  requestBody?: { content?: Record<string, MediaType>; $ref?: string };
  responses?: Record<string, { content?: Record<string, MediaType> }>;
  security?: Record<string, string[]>[];
}

interface PostmanKeyValue {
  key: string;
  value: string;
  description?: string;
  disabled?: boolean;
  type?: string;
}
interface PostmanRequestItem {
  name: string;
  event?: { listen: 'test'; script: { type: 'text/javascript'; exec: string[] } }[];
  request: {
    method: string;
    header: PostmanKeyValue[];
    url: {
      raw: string;
      host: string[];
      path: string[];
      query?: PostmanKeyValue[];
      variable?: PostmanKeyValue[];
    };
    body?:
      | { mode: 'raw'; raw: string; options: { raw: { language: 'json' } } }
      | { mode: 'urlencoded'; urlencoded: PostmanKeyValue[] }
      | { mode: 'formdata'; formdata: { key: string; type: 'file'; src: string }[] };
    auth?: { type: 'noauth' };
    description?: string;
  };
  response: [];
}
interface PostmanFolder {
  name: string;
  item: PostmanRequestItem[];
}
export interface PostmanCollection {
  info: { _postman_id: string; name: string; description: string; schema: string };
  auth: { type: 'bearer'; bearer: PostmanKeyValue[] };
  variable: PostmanKeyValue[];
  item: PostmanFolder[];
}

/** Test script for responses that carry tokens: saved in the environment and the collection. */
const SAVE_TOKENS = [
  'const body = pm.response.json();',
  "for (const key of ['access_token', 'refresh_token']) {",
  '  if (body && body[key]) {',
  '    pm.environment.set(key, body[key]);',
  '    pm.collectionVariables.set(key, body[key]);',
  '  }',
  '}',
  "pm.test('token saved', () => pm.expect(body.access_token).to.be.a('string'));",
];
const SAVE_SESSION = [
  "if ((pm.response.headers.get('Content-Type') || '').includes('application/json')) {",
  '  const body = pm.response.json();',
  '  if (body && body.session_id) {',
  "    pm.environment.set('session_id', body.session_id);",
  "    pm.collectionVariables.set('session_id', body.session_id);",
  '  }',
  '}',
];
const SAVE_KEY_ID = [
  'const body = pm.response.json();',
  'if (body && body.id) {',
  "  pm.environment.set('key_id', body.id);",
  "  pm.collectionVariables.set('key_id', body.id);",
  '}',
  "pm.test('key shown once', () => pm.expect(body.key).to.be.a('string'));",
];

/** Converts an OpenAPI 3 document to a Postman v2.1 collection, one folder per tag. */
export function toPostmanCollection(document: OpenAPIObject): PostmanCollection {
  const refs = new RefResolver(document as unknown as Record<string, Json>);
  const folders = new Map<string, PostmanFolder>();
  const paths = (document.paths ?? {}) as Record<string, Record<string, Operation>>;

  for (const [path, pathItem] of Object.entries(paths)) {
    for (const method of METHODS) {
      const operation = pathItem[method];
      if (!operation) continue;
      const tag = operation.tags?.[0] ?? 'other';
      if (!folders.has(tag)) folders.set(tag, { name: tag, item: [] });
      folders.get(tag)!.item.push(...requestsFor(path, method, operation, refs));
    }
  }

  const info = document.info;
  return {
    info: {
      _postman_id: stableUuid(info.title),
      name: info.title,
      description:
        `${info.description ?? ''}\n\nGenerated from the OpenAPI document by \`npm run docs:postman\`. ` +
        'Set `baseUrl`, run "Log in" (it saves `access_token` and `refresh_token`), then any request. ' +
        'Socket.IO (`/chat`) and the plain WebSocket (`/api/chat/ws`) are shown in docs/API_EXAMPLES.md.',
      schema: SCHEMA_URL,
    },
    auth: { type: 'bearer', bearer: [{ key: 'token', value: '{{access_token}}', type: 'string' }] },
    variable: [
      { key: 'baseUrl', value: 'http://localhost:8000' },
      { key: 'access_token', value: '' },
      { key: 'refresh_token', value: '' },
      { key: 'session_id', value: '' },
      { key: 'key_id', value: '' },
    ],
    item: [...folders.values()],
  };
}

function requestsFor(
  path: string,
  method: string,
  operation: Operation,
  refs: RefResolver,
): PostmanRequestItem[] {
  const parameters = (operation.parameters ?? []).map((p) => refs.resolve<Parameter>(p));
  const segments = path
    .split('/')
    .filter(Boolean)
    .map((segment) => segment.replace(/^\{(.+)\}$/, ':$1'));
  const query = parameters
    .filter((p) => p.in === 'query')
    .map((p) => ({
      key: p.name,
      value: stringValue(p.example ?? p.schema?.example ?? p.schema?.default ?? ''),
      ...(p.description ? { description: p.description } : {}),
      ...(p.required ? {} : { disabled: true }),
    }));
  const variables = parameters
    .filter((p) => p.in === 'path')
    .map((p) => ({
      key: p.name,
      value: PATH_VARIABLES.has(p.name) ? `{{${p.name}}}` : stringValue(p.example ?? ''),
      ...(p.description ? { description: p.description } : {}),
    }));
  const headers = parameters
    .filter((p) => p.in === 'header' && p.name.toLowerCase() !== 'authorization')
    .map((p) => ({
      key: p.name,
      value: stringValue(p.example ?? p.schema?.example ?? ''),
      ...(p.description ? { description: p.description } : {}),
      ...(p.required ? {} : { disabled: true }),
    }));
  const queryString = query
    .filter((q) => !q.disabled)
    .map((q) => `${q.key}=${q.value}`)
    .join('&');

  const base = (): PostmanRequestItem => ({
    name: operation.summary ?? `${method.toUpperCase()} ${path}`,
    request: {
      method: method.toUpperCase(),
      header: headers.map((h) => ({ ...h })),
      url: {
        raw: `{{baseUrl}}/${segments.join('/')}${queryString ? `?${queryString}` : ''}`,
        host: ['{{baseUrl}}'],
        path: segments,
        ...(query.length ? { query } : {}),
        ...(variables.length ? { variable: variables } : {}),
      },
      ...(operation.security?.length ? {} : { auth: { type: 'noauth' as const } }),
      ...(operation.description ? { description: operation.description } : {}),
    },
    response: [],
  });

  const script = scriptFor(path, operation, refs);
  const withScript = (item: PostmanRequestItem): PostmanRequestItem =>
    script
      ? { ...item, event: [{ listen: 'test', script: { type: 'text/javascript', exec: script } }] }
      : item;

  const content = refs.resolve<{ content?: Record<string, MediaType> }>(
    operation.requestBody ?? {},
  ).content;
  const items: PostmanRequestItem[] = [];
  const json = content?.['application/json'];
  const form = content?.['application/x-www-form-urlencoded'];
  const multipart = content?.['multipart/form-data'];
  if (json || !form) {
    const item = base();
    if (multipart) {
      // Uploads: the binary parts of the schema, each a file to pick in Postman.
      const schema = refs.resolve<Schema>(multipart.schema ?? {});
      item.request.body = {
        mode: 'formdata',
        formdata: Object.entries(refs.properties(schema))
          .filter(([, property]) => (property as { format?: string }).format === 'binary')
          .map(([key]) => ({ key, type: 'file' as const, src: '' })),
      };
    }
    if (json) {
      item.request.header.unshift({ key: 'Content-Type', value: 'application/json' });
      item.request.body = {
        mode: 'raw',
        raw: JSON.stringify(
          bodyExample(json.example ?? refs.example(json.schema, true), {
            kind: 'json',
            required: refs.required(json.schema),
            saves: script,
          }),
          null,
          2,
        ),
        options: { raw: { language: 'json' } },
      };
    }
    items.push(withScript(item));
  }
  if (form) {
    const item = base();
    if (json) {
      items[0].name += ' (JSON)';
      item.name += ' (form)';
    }
    item.request.header.unshift({
      key: 'Content-Type',
      value: 'application/x-www-form-urlencoded',
    });
    const example = bodyExample(form.example ?? refs.example(form.schema, true), {
      kind: 'form',
      required: refs.required(form.schema),
      saves: script,
    });
    item.request.body = {
      mode: 'urlencoded',
      urlencoded: Object.entries(example).map(([key, value]) => ({
        key,
        value: stringValue(value),
        type: 'text',
      })),
    };
    items.push(withScript(item));
  }
  return items;
}

/** Token-saving script where the success response carries tokens; session saving for chat. */
function scriptFor(path: string, operation: Operation, refs: RefResolver): string[] | undefined {
  const success = Object.entries(operation.responses ?? {}).find(([code]) => /^2/.test(code))?.[1];
  const schema = refs.resolve<Schema>(success?.content?.['application/json']?.schema ?? {});
  const properties = refs.properties(schema);
  if ('access_token' in properties || /\/auth\/(login|refresh)$/.test(path)) return SAVE_TOKENS;
  if ('session_id' in properties && /\/chat$/.test(path)) return SAVE_SESSION;
  if (/\/api\/keys$/.test(path) && 'key' in properties) return SAVE_KEY_ID;
  return undefined;
}

/** Path parameters filled from a collection variable of the same name (set by an earlier request). */
const PATH_VARIABLES = new Set(['session_id', 'key_id']);

/** Collection variables a body field of the same name is filled from. */
const VARIABLE_FIELDS = ['access_token', 'refresh_token', 'session_id'];

/**
 * A request body example. Optional fields documented as empty are left out; fields named like a
 * collection variable take `{{variable}}` (an optional one is left out of the request that sets
 * it: the first chat starts a session, later ones continue it); where a body accepts both
 * `email` and its OAuth2 alias `username`, JSON shows `email` and forms `username`.
 */
function bodyExample(
  example: Json,
  options: { kind: 'json' | 'form'; required: Set<string>; saves?: string[] },
): Record<string, Json> {
  const body = { ...((example ?? {}) as Record<string, Json>) };
  const saved =
    options.saves === SAVE_SESSION
      ? ['session_id']
      : options.saves
        ? ['access_token', 'refresh_token']
        : [];
  for (const [key, value] of Object.entries(body)) {
    if (value === '' && !options.required.has(key)) delete body[key];
    else if (VARIABLE_FIELDS.includes(key)) {
      if (saved.includes(key) && !options.required.has(key)) delete body[key];
      else body[key] = `{{${key}}}`;
    }
  }
  if ('email' in body && 'username' in body) {
    delete body[options.kind === 'json' ? 'username' : 'email'];
  }
  return body;
}

function stringValue(value: Json): string {
  if (value === undefined || value === null) return '';
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/** A UUID-shaped id derived from a name, so the file only changes when the API does. */
function stableUuid(name: string): string {
  const hex = createHash('sha1').update(`postman:${name}`).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-5${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

class RefResolver {
  constructor(private readonly document: Record<string, Json>) {}

  resolve<T>(value: T | { $ref?: string }): T {
    let current = value as { $ref?: string };
    for (let depth = 0; current?.$ref && depth < 20; depth++) {
      const pointer = current.$ref.replace(/^#\//, '').split('/');
      current = pointer.reduce<Json>(
        (node, key) => (node as Record<string, Json>)?.[decodeURIComponent(key)],
        this.document,
      ) as { $ref?: string };
    }
    return current as T;
  }

  /** Names of the required properties of a (possibly referenced) object schema. */
  required(schemaOrRef: Schema | undefined): Set<string> {
    const schema = this.resolve<Schema>(schemaOrRef ?? {});
    const names = [...(schema.required ?? [])];
    for (const part of schema.allOf ?? []) names.push(...this.required(part));
    return new Set(names);
  }

  properties(schema: Schema): Record<string, Schema> {
    const own = { ...(schema.properties ?? {}) };
    for (const part of schema.allOf ?? []) Object.assign(own, this.properties(this.resolve(part)));
    return own;
  }

  /** An example value for a schema: its examples, else a plausible value by type and format. */
  example(schemaOrRef: Schema | undefined, topLevel = false, depth = 0): Json {
    if (!schemaOrRef || depth > 6) return undefined;
    const schema = this.resolve<Schema>(schemaOrRef);
    if (schema.example !== undefined) return schema.example;
    if (schema.default !== undefined) return schema.default;
    if (schema.enum?.length) return schema.enum[0];
    const variant = schema.oneOf?.[0] ?? schema.anyOf?.[0];
    if (variant) return this.example(variant, topLevel, depth + 1);
    const properties = this.properties(schema);
    if (schema.type === 'object' || Object.keys(properties).length) {
      const required = new Set(schema.required ?? []);
      const result: Record<string, Json> = {};
      for (const [name, property] of Object.entries(properties)) {
        const resolved = this.resolve<Schema>(property);
        // Request bodies show what a client must send plus the documented optional fields.
        if (topLevel && !required.has(name) && resolved.example === undefined) continue;
        const value = this.example(resolved, false, depth + 1);
        if (value !== undefined) result[name] = value;
      }
      return result;
    }
    if (schema.type === 'array') {
      return [this.example(schema.items, false, depth + 1)].filter((v) => v !== undefined);
    }
    if (schema.type === 'integer' || schema.type === 'number') return 0;
    if (schema.type === 'boolean') return false;
    if (schema.type !== 'string') return undefined;
    if (schema.format === 'email') return 'user@example.com';
    if (schema.format === 'date-time') return '2025-01-01T00:00:00.000Z';
    if (schema.format === 'uuid') return '00000000-0000-4000-8000-000000000000';
    return 'string';
  }
}

/** The OpenAPI document exactly as /docs-json serves it, built without listening. */
export async function buildOpenApiDocument(): Promise<OpenAPIObject> {
  const dir = mkdtempSync(join(tmpdir(), 'chatbot-postman-'));
  try {
    // A fixed environment (never the developer's .env), so the output depends only on the code.
    const config = AppConfig.fromEnv({
      LOG_LEVEL: 'silent',
      SECRET_KEY: randomBytes(32).toString('hex'),
      DATABASE_URL: `sqlite:///${join(dir, 'postman.db')}`,
      DOCS_ENABLED: 'false',
    });
    const app = await createApp(config);
    try {
      return createOpenApiDocument(app);
    } finally {
      await app.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function renderCollection(document: OpenAPIObject): string {
  return `${JSON.stringify(toPostmanCollection(document), null, 2)}\n`;
}

async function main(): Promise<void> {
  const check = process.argv.includes('--check');
  const json = renderCollection(await buildOpenApiDocument());
  const requests = (JSON.parse(json) as PostmanCollection).item.reduce(
    (sum, folder) => sum + folder.item.length,
    0,
  );
  if (check) {
    const current = existsSync(COLLECTION_PATH) ? readFileSync(COLLECTION_PATH, 'utf8') : '';
    if (current !== json) {
      console.error(
        'docs/postman_collection.json is stale: run "npm run docs:postman" and commit it.',
      );
      process.exit(1);
    }
    console.log(`docs/postman_collection.json is up to date (${requests} requests).`);
    return;
  }
  writeFileSync(COLLECTION_PATH, json);
  console.log(`Wrote docs/postman_collection.json (${requests} requests).`);
}

if (require.main === module) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
