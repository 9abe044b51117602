import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import request from 'supertest';
import { describeOnSqliteOnly, startTestApp, TestApp } from '@app/testing';
import { ensureWebClientBuilt } from './web-build';

// Serving static files does not depend on the database: run once, in the SQLite project.

describeOnSqliteOnly('web client served by the app [sqlite]', () => {
  let t: TestApp;
  beforeAll(async () => {
    ensureWebClientBuilt();
    t = await startTestApp();
  });
  afterAll(() => t.close());

  it.each(['/', '/chat'])(
    'serves the page at %s with a CSP that allows only this origin',
    async (path) => {
      const res = await request(t.url).get(path).expect(200);
      expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
      expect(res.headers['cache-control']).toBe('no-cache');
      expect(res.text).toBe(
        readFileSync(join(__dirname, '../examples/web/public/index.html'), 'utf8'),
      );
      const csp = res.headers['content-security-policy'];
      expect(csp).toContain("script-src 'self' 'unsafe-inline'");
      expect(csp).toContain("connect-src 'self' ws: wss:");
      expect(csp).toContain("default-src 'self'");
    },
  );

  it('references only assets of this origin, and every one of them is served', async () => {
    const html = (await request(t.url).get('/').expect(200)).text;
    const refs = [...html.matchAll(/\b(?:src|href)="([^"]+)"/g)].map((m) => m[1]);
    expect(refs).toEqual(
      expect.arrayContaining(['/web/style.css', '/web/vendor/socket.io.min.js', '/web/js/app.js']),
    );
    for (const ref of refs) {
      expect(ref).not.toMatch(/^(https?:)?\/\//); // no CDN, no external resource
      if (!ref.startsWith('/web/')) continue;
      const res = await request(t.url).get(ref);
      expect({ ref, status: res.status }).toEqual({ ref, status: 200 });
    }
  });

  it('serves the compiled scripts and the modules they import', async () => {
    const app = await request(t.url).get('/web/js/app.js').expect(200);
    expect(app.headers['content-type']).toBe('application/javascript; charset=utf-8');
    const imports = [...app.text.matchAll(/from '\.\/([\w-]+\.js)'/g)].map((m) => m[1]);
    expect(imports.sort()).toEqual([
      'api.js',
      'attachments.js',
      'dom.js',
      'markdown.js',
      'sessions.js',
      'settings.js',
    ]);
    for (const name of imports) {
      const res = await request(t.url).get(`/web/js/${name}`).expect(200);
      expect(res.text).toContain('export');
    }
  });

  it('serves the stylesheet and the Socket.IO client bundle from node_modules', async () => {
    const css = await request(t.url).get('/web/style.css').expect(200);
    expect(css.headers['content-type']).toBe('text/css; charset=utf-8');
    const bundle = await request(t.url).get('/web/vendor/socket.io.min.js').expect(200);
    expect(bundle.headers['content-type']).toBe('application/javascript; charset=utf-8');
    expect(bundle.text).toBe(
      readFileSync(
        join(dirname(require.resolve('socket.io-client/package.json')), 'dist/socket.io.min.js'),
        'utf8',
      ),
    );
  });

  it.each([
    '/web/js/missing.js',
    '/web/js/..%2F..%2F..%2Fpackage.json',
    '/web/..%2F..%2Fpackage.json',
    '/web/index.html',
    '/web/js/app.ts',
    '/web/.env',
    '/web/js/%2e%2e%2fsrc%2fapp.ts',
  ])('answers %s with 404 {detail} and never a file outside public/', async (path) => {
    const res = await request(t.url).get(path).expect(404);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.body).toEqual({ detail: expect.any(String) });
  });

  it('leaves the API, docs, health and metrics routes alone', async () => {
    const api = await request(t.url).get('/api/does-not-exist').expect(404);
    expect(api.body).toEqual({ detail: expect.any(String) });
    await request(t.url).get('/health/live').expect(200, { status: 'ok' });
    const docs = await request(t.url).get('/docs').expect(200);
    expect(docs.text).toContain('swagger');
    const spec = await request(t.url).get('/docs-json').expect(200);
    const paths = Object.keys(spec.body.paths as Record<string, unknown>);
    expect(paths.filter((p) => p === '/' || p === '/chat' || p.startsWith('/web'))).toEqual([]);
    await request(t.url).get('/metrics').expect(200);
  });
});

describeOnSqliteOnly('web client switched off [sqlite]', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ WEB_CLIENT_ENABLED: 'false' });
  });
  afterAll(() => t.close());

  it.each(['/', '/chat', '/web/js/app.js', '/web/style.css', '/web/vendor/socket.io.min.js'])(
    'answers %s with 404 {detail}',
    async (path) => {
      const res = await request(t.url).get(path).expect(404);
      expect(res.body).toEqual({ detail: expect.any(String) });
    },
  );

  it('still serves the API and health routes', async () => {
    await request(t.url).get('/health/live').expect(200, { status: 'ok' });
    await request(t.url).get('/docs-json').expect(200);
  });
});
