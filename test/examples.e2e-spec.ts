import { execFile, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { runInNewContext } from 'node:vm';
import request from 'supertest';
import { describeOnSqliteOnly, startTestApp, TestApp } from '@app/testing';
import { toPostmanCollection, type PostmanCollection } from '../scripts/generate-postman';

/**
 * The example clients run as child processes against a live server (BASE_URL), exactly as a
 * user runs them; then the server's history proves they did what they printed. The Postman
 * collection generated from the live OpenAPI document is executed request by request, with its
 * test scripts. Runs once, in the SQLite project.
 */
const ROOT = join(__dirname, '..');
const TS_NODE = join(ROOT, 'node_modules/.bin/ts-node');
const EXAMPLE_PASSWORD = 'a long example passphrase';

const describeSqlite = describeOnSqliteOnly;

interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command asynchronously (the server under test lives in this process's event loop). */
function run(command: string, args: string[], baseUrl: string): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(
      command,
      args,
      { cwd: ROOT, env: { ...process.env, BASE_URL: baseUrl }, timeout: 90_000 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** A Python 3 with `requests`: the one on PATH, else Debian's (python3-requests). */
function findPython(): string | undefined {
  return ['python3', '/usr/bin/python3'].find(
    (python) => spawnSync(python, ['-c', 'import requests'], { stdio: 'ignore' }).status === 0,
  );
}

async function loginAs(t: TestApp, stdout: string): Promise<string> {
  const email = /registered (\S+@example\.com)/.exec(stdout)?.[1];
  expect(email).toBeDefined();
  const res = await request(t.url)
    .post('/api/auth/login')
    .send({ email, password: EXAMPLE_PASSWORD })
    .expect(200);
  return res.body.access_token as string;
}

async function storedMessages(t: TestApp, token: string) {
  const list = await request(t.url)
    .get('/api/history')
    .set('Authorization', `Bearer ${token}`)
    .expect(200);
  expect(list.body.total).toBe(1);
  const detail = await request(t.url)
    .get(`/api/history/${list.body.items[0].session_id}`)
    .set('Authorization', `Bearer ${token}`)
    .expect(200);
  return detail.body.messages.map((m: { role: string; status: string }) => `${m.role}:${m.status}`);
}

describeSqlite('example clients against a live server', () => {
  jest.setTimeout(120_000);
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp({
      // Slow enough that a reply streams in several pieces and can be stopped.
      AI_SERVICES__LOCAL_DELAY_MS: '20',
      RATE_LIMIT__AUTH_PER_MINUTE: '200',
    });
  });
  afterAll(() => t.close());

  it('examples/python/client.py: JSON and form login, chat, SSE stream, history, refresh, logout', async () => {
    const python = findPython();
    if (!python) {
      if (process.env.CI === 'true') {
        throw new Error('CI run without python3 + requests: .ci/run must install python3-requests');
      }
      console.warn(
        '\n*** SKIPPED the Python example: no python3 with requests (apt-get install python3-requests) ***\n',
      );
      return;
    }
    const result = await run(python, ['examples/python/client.py'], t.url);
    expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 0, stderr: '' });
    expect(result.stdout).toContain('logged in with the form: token_type=bearer');
    expect(result.stdout).toContain('logged in with JSON');
    expect(result.stdout).toMatch(/reply: .*Hello from Python!/);
    const deltas = Number(/stream done: (\d+) deltas, finish_reason=stop/.exec(result.stdout)?.[1]);
    expect(deltas).toBeGreaterThan(1);
    expect(result.stdout).toMatch(/session \S+: 4 messages/);
    expect(result.stdout).toContain('logged out (the refresh token no longer works)');
    expect(result.stdout.trim().endsWith('OK')).toBe(true);

    const token = await loginAs(t, result.stdout);
    expect(await storedMessages(t, token)).toEqual([
      'user:complete',
      'assistant:complete',
      'user:complete',
      'assistant:complete',
    ]);
  });

  it('examples/node/socketio-client.ts: streams over Socket.IO and stops a reply', async () => {
    // --transpile-only: types are checked by `npm run typecheck`; this checks behaviour.
    const result = await run(
      TS_NODE,
      ['--transpile-only', 'examples/node/socketio-client.ts'],
      t.url,
    );
    expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 0, stderr: '' });
    expect(result.stdout).toMatch(/assistant: .*Hello from the Node Socket\.IO example!/);
    expect(result.stdout).toMatch(/reply done: session \S+, model local\/echo, finish_reason stop/);
    expect(result.stdout).toContain('follow-up done in the same session: true');
    expect(result.stdout).toMatch(/stopped after \d+ characters: finish_reason aborted/);
    expect(result.stdout.trim().endsWith('OK')).toBe(true);

    const token = await loginAs(t, result.stdout);
    expect(await storedMessages(t, token)).toEqual([
      'user:complete',
      'assistant:complete',
      'user:complete',
      'assistant:complete',
      'user:complete',
      'assistant:aborted',
    ]);
  });

  it('examples/ws/ws-client.ts: streams over the plain WebSocket', async () => {
    const result = await run(TS_NODE, ['--transpile-only', 'examples/ws/ws-client.ts'], t.url);
    expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 0, stderr: '' });
    expect(result.stdout).toMatch(/assistant \(local\/echo\): .*Hello from the plain WebSocket/);
    expect(result.stdout.match(/done: finish_reason stop/g)).toHaveLength(2);
    expect(result.stdout).toContain('follow-up in the same session: true');
    expect(result.stdout.trim().endsWith('OK')).toBe(true);

    const token = await loginAs(t, result.stdout);
    expect(await storedMessages(t, token)).toEqual([
      'user:complete',
      'assistant:complete',
      'user:complete',
      'assistant:complete',
    ]);
  });

  it('exits non-zero with the server detail when the server refuses', async () => {
    const result = await run(
      TS_NODE,
      ['--transpile-only', 'examples/ws/ws-client.ts'],
      `${t.url}/nope`,
    );
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/register: \S/);
  });
});

describeSqlite('Postman collection from the live OpenAPI document', () => {
  jest.setTimeout(60_000);
  let t: TestApp;
  let collection: PostmanCollection;
  let operations: number;

  beforeAll(async () => {
    t = await startTestApp();
    const spec = await request(t.url).get('/docs-json').expect(200);
    collection = toPostmanCollection(spec.body);
    operations = Object.values(spec.body.paths as Record<string, object>).reduce<number>(
      (sum, item) => sum + Object.keys(item).filter((k) => k !== 'parameters').length,
      0,
    );
  });
  afterAll(() => t.close());

  const all = () => collection.item.flatMap((folder) => folder.item);
  const find = (method: string, path: string, suffix = '') =>
    all().find(
      (item) =>
        item.request.method === method &&
        item.request.url.path.join('/') === path &&
        item.name.endsWith(suffix),
    )!;

  it('has a request for every operation, on {{baseUrl}} with bearer {{access_token}}', () => {
    const forms = all().filter((item) => item.name.endsWith(' (form)')).length;
    expect(all().length - forms).toBe(operations);
    expect(collection.info.schema).toBe(
      'https://schema.getpostman.com/json/collection/v2.1.0/collection.json',
    );
    expect(collection.auth.bearer).toEqual([
      { key: 'token', value: '{{access_token}}', type: 'string' },
    ]);
    for (const item of all()) expect(item.request.url.raw.startsWith('{{baseUrl}}/')).toBe(true);
    expect(find('GET', 'api/users/me').request.auth).toBeUndefined(); // inherits bearer
    expect(find('POST', 'api/auth/register').request.auth).toEqual({ type: 'noauth' });
  });

  it('runs top to bottom against the server: login scripts save the tokens, chat the session', async () => {
    const variables = new Map(collection.variable.map((v) => [v.key, v.value]));
    variables.set('baseUrl', t.url);
    const environment = new Map<string, string>();
    const resolve = (text: string) =>
      text.replace(/\{\{(\w+)\}\}/g, (_m, key: string) => variables.get(key) ?? '');

    const send = async (item: ReturnType<typeof find>) => {
      const { request: req } = item;
      let url = req.url.raw;
      for (const v of req.url.variable ?? []) url = url.replace(`:${v.key}`, v.value);
      const agent = request(resolve('{{baseUrl}}'));
      const path = resolve(url).slice(resolve('{{baseUrl}}').length);
      let call = agent[req.method.toLowerCase() as 'get'](path);
      for (const header of req.header.filter((h) => !h.disabled)) {
        call = call.set(header.key, resolve(header.value));
      }
      if (!req.auth) call = call.set('Authorization', `Bearer ${resolve('{{access_token}}')}`);
      if (req.body?.mode === 'raw') call = call.send(resolve(req.body.raw));
      if (req.body?.mode === 'urlencoded') {
        call = call.send(
          new URLSearchParams(req.body.urlencoded.map((f) => [f.key, resolve(f.value)])).toString(),
        );
      }
      const res = await call;
      for (const event of item.event ?? []) {
        const tests: string[] = [];
        runInNewContext(event.script.exec.join('\n'), {
          pm: {
            response: {
              code: res.status,
              json: () => res.body,
              headers: { get: (name: string) => res.headers[name.toLowerCase()] },
            },
            environment: { set: (k: string, v: string) => environment.set(k, v) },
            collectionVariables: { set: (k: string, v: string) => variables.set(k, v) },
            test: (name: string, fn: () => void) => {
              fn();
              tests.push(name);
            },
            expect: (value: unknown) => ({
              to: { be: { a: (type: string) => expect(typeof value).toBe(type) } },
            }),
          },
        });
      }
      return res;
    };

    expect((await send(find('POST', 'api/auth/register'))).status).toBe(201);
    expect((await send(find('POST', 'api/auth/login', ' (form)'))).status).toBe(200);
    const formToken = variables.get('access_token');
    expect(formToken).toMatch(/^ey/);
    expect((await send(find('POST', 'api/auth/login', ' (JSON)'))).status).toBe(200);
    expect(variables.get('access_token')).not.toBe(formToken);
    expect(environment.get('access_token')).toBe(variables.get('access_token'));
    expect(environment.get('refresh_token')).toEqual(expect.any(String));

    const me = await send(find('GET', 'api/users/me'));
    expect(me.status).toBe(200);
    expect(me.body.email).toBe('ada@example.com');
    expect((await send(find('GET', 'api/models'))).status).toBe(200);

    const chat = await send(find('POST', 'api/chat'));
    expect(chat.status).toBe(200);
    expect(variables.get('session_id')).toBe(chat.body.session_id);
    const stream = await send(find('POST', 'api/chat/stream'));
    expect(stream.status).toBe(200);
    expect(stream.text).toContain('event: done');

    expect((await send(find('GET', 'api/history'))).status).toBe(200);
    const session = await send(find('GET', 'api/history/:session_id'));
    expect(session.status).toBe(200);
    expect(session.body.messages).toHaveLength(4);
    expect((await send(find('PATCH', 'api/history/:session_id'))).status).toBe(200);
    expect((await send(find('GET', 'api/history/:session_id/export'))).status).toBe(200);

    const key = await send(find('POST', 'api/keys'));
    expect(key.status).toBe(201);
    expect(variables.get('key_id')).toBe(key.body.id);
    expect((await send(find('GET', 'api/keys'))).status).toBe(200);
    expect((await send(find('GET', 'v1/models'))).status).toBe(200);
    const completion = await send(find('POST', 'v1/chat/completions'));
    expect(completion.status).toBe(200);
    expect(completion.body.object).toBe('chat.completion');
    expect((await send(find('DELETE', 'api/keys/:key_id'))).status).toBe(204);

    const before = variables.get('refresh_token');
    expect((await send(find('POST', 'api/auth/refresh'))).status).toBe(200);
    expect(variables.get('refresh_token')).not.toBe(before);
    expect((await send(find('POST', 'api/auth/logout'))).status).toBe(204);
  });
});
