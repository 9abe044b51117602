import { randomBytes } from 'node:crypto';
import request from 'supertest';
import {
  describeE2e,
  registerAndLogin,
  startTestApp,
  type LoggedInUser,
  type TestApp,
} from '@app/testing';

/** The parts of an OpenAPI 3.0 document these tests read. */
interface Schema {
  $ref?: string;
  type?: string;
  format?: string;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  additionalProperties?: boolean;
  properties?: Record<string, Schema>;
}
interface Media {
  schema?: Schema;
  example?: { detail?: string; errors?: unknown[] };
}
interface Operation {
  parameters?: { name: string; in: string; schema?: Schema }[];
  requestBody?: { required?: boolean; content: Record<string, Media> };
  responses: Record<string, { content?: Record<string, Media> }>;
  security?: Record<string, string[]>[];
}
interface OpenApiDocument {
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, Schema> };
}

const ERROR_SCHEMA = '#/components/schemas/ErrorResponseDto';

/** The OpenAPI document says what the API does; each claim is checked against a real answer. */
describeE2e('OpenAPI document (/docs-json)', () => {
  let t: TestApp;
  let doc: OpenApiDocument;
  let alice: LoggedInUser;

  const operations = () =>
    Object.entries(doc.paths).flatMap(([path, item]) =>
      Object.entries(item).map(([method, op]) => ({ label: `${method} ${path}`, op })),
    );
  const schemaOf = (ref: string | undefined): Schema =>
    doc.components.schemas[ref!.replace('#/components/schemas/', '')];
  const param = (path: string, method: string, name: string) =>
    doc.paths[path][method].parameters!.find((p) => p.name === name)!.schema!;

  beforeAll(async () => {
    t = await startTestApp();
    doc = (await request(t.url).get('/docs-json').expect(200)).body as OpenApiDocument;
    alice = await registerAndLogin(t.url);
  });
  afterAll(() => t.close());

  describe('POST /api/chat/stream', () => {
    const op = () => doc.paths['/api/chat/stream'].post;

    it('streams only its 200; its errors are JSON, as the server sends them', async () => {
      expect(Object.keys(op().responses['200'].content!)).toEqual(['text/event-stream']);
      for (const status of ['400', '401', '404', '409', '429']) {
        expect(Object.keys(op().responses[status].content!)).toEqual(['application/json']);
        expect(op().responses[status].content!['application/json'].schema!.$ref).toBe(ERROR_SCHEMA);
      }
      const res = await request(t.url)
        .post('/api/chat/stream')
        .set('Authorization', `Bearer ${alice.token}`)
        .send({ message: 'hi', session_id: '00000000-0000-4000-8000-000000000000' })
        .expect(404);
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      expect(res.body).toEqual({ detail: 'Session not found' });
    });

    it('describes each event with its id, name and JSON data', () => {
      const event = op().responses['200'].content!['text/event-stream'].schema!;
      expect(Object.keys(event.properties!).sort()).toEqual(['data', 'event', 'id']);
    });
  });

  describe('integers', () => {
    it('types page, per_page and max_tokens as integers', () => {
      for (const path of ['/api/history', '/api/history/{session_id}']) {
        expect(param(path, 'get', 'page').type).toBe('integer');
        expect(param(path, 'get', 'per_page').type).toBe('integer');
      }
      expect(doc.components.schemas.ChatRequestDto.properties!.max_tokens.type).toBe('integer');
      // Counts in responses too, so generated clients get whole-number types.
      expect(doc.components.schemas.SessionListDto.properties!.total.type).toBe('integer');
      expect(doc.components.schemas.UsageDto.properties!.tokens.type).toBe('integer');
    });

    it.each([
      ['per_page=ten', 'per_page must be a whole number'],
      ['per_page=0', 'per_page must be at least 1'],
      ['per_page=101', 'per_page must not be greater than 100'],
      ['page=-1', 'page must be a whole number'],
    ])('answers ?%s with one message', async (query, message) => {
      const res = await request(t.url)
        .get(`/api/history?${query}`)
        .set('Authorization', `Bearer ${alice.token}`)
        .expect(400);
      expect(res.body).toEqual({
        detail: message,
        errors: [{ field: query.split('=')[0], message }],
      });
    });

    it.each([
      ['a string', '10', 'max_tokens must be a whole number'],
      ['a fraction', 1.5, 'max_tokens must be a whole number'],
      ['zero', 0, 'max_tokens must be at least 1'],
      ['too many', 40000, 'max_tokens must not be greater than 32768'],
    ])('answers max_tokens as %s with one message', async (_case, maxTokens, message) => {
      const res = await request(t.url)
        .post('/api/chat')
        .set('Authorization', `Bearer ${alice.token}`)
        .send({ message: 'hi', max_tokens: maxTokens })
        .expect(400);
      expect(res.body).toEqual({ detail: message, errors: [{ field: 'max_tokens', message }] });
    });
  });

  describe('request bodies', () => {
    it('closes every request-body schema, as the server rejects unknown fields', async () => {
      const bodies = operations().flatMap(({ label, op }) =>
        Object.values(op.requestBody?.content ?? {}).map((media) => ({
          label,
          schema: schemaOf(media.schema?.$ref),
        })),
      );
      expect(bodies.length).toBeGreaterThanOrEqual(10);
      for (const { label, schema } of bodies) {
        expect({ label, additionalProperties: schema.additionalProperties }).toEqual({
          label,
          additionalProperties: false,
        });
      }
      const res = await request(t.url)
        .post('/api/auth/register')
        .send({ email: 'x@example.com', password: 'long enough password', admin: true })
        .expect(400);
      expect(res.body.errors).toEqual([
        { field: 'admin', message: 'admin is not an allowed field' },
      ]);
    });

    it('states the length, format and pattern rules validation applies', () => {
      const { schemas } = doc.components;
      expect(schemas.RegisterDto.properties!.email).toMatchObject({
        format: 'email',
        maxLength: 254,
      });
      expect(schemas.RegisterDto.properties!.password).toMatchObject({
        minLength: 8,
        maxLength: 128,
      });
      expect(schemas.PasswordResetRequestDto.properties!.email.format).toBe('email');
      expect(schemas.LoginDto.properties!.email.format).toBe('email');
      expect(schemas.RefreshDto.properties!.refresh_token).toMatchObject({
        minLength: 1,
        maxLength: 512,
      });
      expect(schemas.ChatRequestDto.properties!.message.minLength).toBe(1);
      expect(schemas.ChatRequestDto.properties!.model).toMatchObject({
        minLength: 1,
        maxLength: 200,
      });
      expect(schemas.UpdateSessionDto.properties!.title).toMatchObject({
        minLength: 1,
        maxLength: 200,
      });
    });

    it('gives Idempotency-Key the pattern and length the server checks', async () => {
      for (const path of ['/api/chat', '/api/chat/stream']) {
        const key = param(path, 'post', 'Idempotency-Key');
        expect(key).toMatchObject({ type: 'string', minLength: 1, maxLength: 255 });
        const pattern = new RegExp(key.pattern!);
        expect(pattern.test('retry-7f3a')).toBe(true);
        expect(pattern.test('   ')).toBe(false);
        expect(pattern.test('schlüssel')).toBe(false);
      }
      for (const key of ['x'.repeat(256), 'schlüssel']) {
        const res = await request(t.url)
          .post('/api/chat')
          .set('Authorization', `Bearer ${alice.token}`)
          .set('Idempotency-Key', key)
          .send({ message: 'hi' })
          .expect(400);
        expect(res.body.detail).toBe('Idempotency-Key must be 1 to 255 printable ASCII characters');
      }
    });

    it('marks the logout body optional, and logout without a body answers 204', async () => {
      expect(doc.paths['/api/auth/logout'].post.requestBody!.required).toBe(false);
      await request(t.url)
        .post('/api/auth/logout')
        .set('Authorization', `Bearer ${alice.token}`)
        .expect(204);
    });
  });

  describe('/metrics', () => {
    it('is open by default, so it asks for no user token, and documents a JSON 401', async () => {
      const op = doc.paths['/metrics'].get;
      expect(op.security).toBeUndefined();
      expect(Object.keys(op.responses['401'].content!)).toEqual(['application/json']);
      await request(t.url).get('/metrics').expect(200);
    });

    it('answers a wrong token with that JSON 401 when METRICS_TOKEN is set', async () => {
      const guarded = await startTestApp({ METRICS_TOKEN: randomBytes(16).toString('hex') });
      try {
        const res = await request(guarded.url)
          .get('/metrics')
          .set('Authorization', `Bearer ${alice.token}`)
          .expect(401);
        expect(res.headers['content-type']).toMatch(/^application\/json/);
        expect(res.body).toEqual(
          doc.paths['/metrics'].get.responses['401'].content!['application/json'].example,
        );
      } finally {
        await guarded.close();
      }
    });
  });

  it('shows an example of its own status on every error response', async () => {
    const details = new Map<string, Set<string>>();
    for (const { label, op } of operations()) {
      for (const [status, response] of Object.entries(op.responses)) {
        const json = response.content?.['application/json'];
        if (json?.schema?.$ref !== ERROR_SCHEMA) continue;
        const example = json.example ?? {};
        // Only validation errors (400) list fields.
        expect({ label, status, detail: typeof example.detail, fields: !!example.errors }).toEqual({
          label,
          status,
          detail: 'string',
          fields: status === '400',
        });
        details.set(status, (details.get(status) ?? new Set()).add(example.detail!));
      }
    }
    expect(details.get('403')).toEqual(
      new Set([
        'Account is disabled',
        'API keys cannot be used here; sign in with a password instead',
        'Admin role required',
      ]),
    );
    for (const detail of details.get('429')!) expect(detail).toMatch(/^Too many requests/);
    const anonymous = await request(t.url).get('/api/users/me').expect(401);
    expect(anonymous.body).toEqual(
      doc.paths['/api/users/me'].get.responses['401'].content!['application/json'].example,
    );
  });
});
