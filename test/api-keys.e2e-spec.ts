import request from 'supertest';
import { DataSource } from 'typeorm';
import {
  connectChatSocket,
  describeE2e,
  registerAndLogin,
  startTestApp,
  type LoggedInUser,
  type TestApp,
} from '@app/testing';
import { ApiKey } from '../src/api-keys/entities/api-key.entity';
import { User } from '../src/users/entities/user.entity';

const KEY_PATTERN = /^sk-cb-[A-Za-z0-9_-]{43}$/;
const KEYS_FORBIDDEN = { detail: 'API keys cannot be used here; sign in with a password instead' };

describeE2e('personal API keys (/api/keys)', () => {
  let t: TestApp;
  let db: DataSource;
  let alice: LoggedInUser;
  let bob: LoggedInUser;

  const http = () => request(t.url);
  const as = (token: string) => ({ Authorization: `Bearer ${token}` });
  async function createKey(user: LoggedInUser, body: object = { name: 'k', scopes: ['chat'] }) {
    const res = await http().post('/api/keys').set(as(user.token)).send(body).expect(201);
    return res.body as { id: string; key: string; prefix: string; scopes: string[] };
  }

  beforeAll(async () => {
    t = await startTestApp({ RATE_LIMIT__AUTH_PER_MINUTE: '10000' });
    db = t.app.get(DataSource);
    alice = await registerAndLogin(t.url);
    bob = await registerAndLogin(t.url);
  });
  afterAll(() => t.close());

  describe('POST /api/keys', () => {
    it('returns the key once and stores only its HMAC', async () => {
      const res = await http()
        .post('/api/keys')
        .set(as(alice.token))
        .send({ name: '  CI pipeline ', scopes: ['models', 'chat'], expires_in_days: 30 })
        .expect(201);
      expect(res.body).toEqual({
        id: expect.any(String),
        name: 'CI pipeline',
        prefix: res.body.key.slice(0, 16),
        scopes: ['chat', 'models'],
        rate_limit_per_minute: null,
        tokens_per_day: null,
        created_at: expect.stringMatching(/Z$/),
        expires_at: expect.stringMatching(/Z$/),
        last_used_at: null,
        key: expect.stringMatching(KEY_PATTERN),
      });
      const days = (Date.parse(res.body.expires_at) - Date.parse(res.body.created_at)) / 86_400_000;
      expect(days).toBeCloseTo(30, 5);
      const row = await db.getRepository(ApiKey).findOneByOrFail({ id: res.body.id });
      expect(row.keyHash).toMatch(/^[0-9a-f]{64}$/);
      expect(JSON.stringify(row)).not.toContain(res.body.key);
    });

    it.each([
      [{ scopes: ['chat'] }, 'name', 'name must be a string'],
      [{ name: '   ', scopes: ['chat'] }, 'name', 'name must be 1 to 100 characters'],
      [{ name: 'x'.repeat(101), scopes: ['chat'] }, 'name', 'name must be 1 to 100 characters'],
      [{ name: 'a\nb', scopes: ['chat'] }, 'name', 'name must not contain control characters'],
      [{ name: 'k' }, 'scopes', 'scopes must be an array'],
      [{ name: 'k', scopes: [] }, 'scopes', 'scopes must name at least one scope'],
      [
        { name: 'k', scopes: ['admin'] },
        'scopes',
        'each scope must be one of: chat, history:read, history:write, models, usage:read',
      ],
      [{ name: 'k', scopes: ['chat', 'chat'] }, 'scopes', 'scopes must not repeat a scope'],
      [
        { name: 'k', scopes: ['chat'], expires_in_days: 0 },
        'expires_in_days',
        'expires_in_days must be at least 1',
      ],
      [
        { name: 'k', scopes: ['chat'], expires_in_days: 1.5 },
        'expires_in_days',
        'expires_in_days must be a whole number',
      ],
      [
        { name: 'k', scopes: ['chat'], expires_in_days: '3' },
        'expires_in_days',
        'expires_in_days must be a whole number',
      ],
      [{ name: 'k', scopes: ['chat'], admin: true }, 'admin', 'admin is not an allowed field'],
      // The key's own limits: whole numbers from 1 up to their maximum.
      ...(
        [
          ['rate_limit_per_minute', 100_000],
          ['tokens_per_day', 1_000_000_000],
        ] as const
      ).flatMap(([field, max]) =>
        (
          [
            [0, 'must be at least 1'],
            [max + 1, `must not be greater than ${max}`],
            [2.5, 'must be a whole number'],
            ['500', 'must be a whole number'],
          ] as const
        ).map(([value, rule]): [object, string, string] => [
          { name: 'k', scopes: ['chat'], [field]: value },
          field,
          `${field} ${rule}`,
        ]),
      ),
    ])('rejects %j with 400 on %s', async (body, field, message) => {
      const res = await http().post('/api/keys').set(as(alice.token)).send(body).expect(400);
      expect(res.body.errors).toContainEqual({ field, message });
      expect(res.body.detail).toContain(message);
    });

    it('answers 401 without a token', async () => {
      const res = await http()
        .post('/api/keys')
        .send({ name: 'k', scopes: ['chat'] })
        .expect(401);
      expect(res.body).toEqual({ detail: 'Not authenticated' });
    });
  });

  describe('GET /api/keys and DELETE /api/keys/{id}', () => {
    it("lists the caller's keys without the key, newest first", async () => {
      const user = await registerAndLogin(t.url);
      const first = await createKey(user, { name: 'one', scopes: ['chat'] });
      await new Promise((resolve) => setTimeout(resolve, 5));
      const second = await createKey(user, { name: 'two', scopes: ['history:read'] });
      const res = await http().get('/api/keys').set(as(user.token)).expect(200);
      expect(res.body.items.map((k: { id: string }) => k.id)).toEqual([second.id, first.id]);
      expect(JSON.stringify(res.body)).not.toContain(first.key);
      expect(res.body.items[0]).not.toHaveProperty('key');
      expect(res.body.items[1].prefix).toBe(first.prefix);
    });

    it('revokes a key at once (401 on the next use) and 404s unknown or foreign ids', async () => {
      const key = await createKey(alice, { name: 'r', scopes: ['models'] });
      await http().get('/api/models').set(as(key.key)).expect(200);
      await http()
        .delete(`/api/keys/${key.id}`)
        .set(as(bob.token))
        .expect(404, { detail: 'API key not found' });
      await http().delete(`/api/keys/${key.id}`).set(as(alice.token)).expect(204);
      const res = await http().get('/api/models').set(as(key.key)).expect(401);
      expect(res.body).toEqual({ detail: 'Invalid API key' });
      await http().delete(`/api/keys/${key.id}`).set(as(alice.token)).expect(404);
      await http().delete('/api/keys/not-a-key').set(as(alice.token)).expect(404);
    });

    it('revokes on every instance at once: another instance refuses the key on its next use', async () => {
      const other = await startTestApp({
        DATABASE_URL: t.database.url,
        SECRET_KEY: t.config.security.secretKey,
      });
      try {
        const key = await createKey(alice, { name: 'two instances', scopes: ['models'] });
        await request(other.url).get('/v1/models').set(as(key.key)).expect(200);
        await http().delete(`/api/keys/${key.id}`).set(as(alice.token)).expect(204);
        const res = await request(other.url).get('/api/models').set(as(key.key)).expect(401);
        expect(res.body).toEqual({ detail: 'Invalid API key' });
      } finally {
        await other.close();
      }
    });

    it('records the last use', async () => {
      const key = await createKey(alice, { name: 'used', scopes: ['models'] });
      await http().get('/api/models').set(as(key.key)).expect(200);
      await new Promise((resolve) => setTimeout(resolve, 100));
      const listed = await http().get('/api/keys').set(as(alice.token)).expect(200);
      const item = listed.body.items.find((k: { id: string }) => k.id === key.id);
      expect(item.last_used_at).toMatch(/Z$/);
    });
  });

  describe('using a key', () => {
    it('works on the routes its scopes allow and answers 403 elsewhere', async () => {
      const chatKey = await createKey(alice, { name: 'chat', scopes: ['chat'] });
      const res = await http()
        .post('/api/chat')
        .set(as(chatKey.key))
        .send({ message: 'hello via key' })
        .expect(200);
      expect(res.body.reply).toContain('hello via key');

      const denied = await http().get('/api/models').set(as(chatKey.key)).expect(403);
      expect(denied.body).toEqual({ detail: 'This API key does not have the "models" scope' });
      await http().get('/api/history').set(as(chatKey.key)).expect(403);

      const reader = await createKey(alice, { name: 'read', scopes: ['history:read'] });
      const history = await http().get('/api/history').set(as(reader.key)).expect(200);
      expect(history.body.items[0].session_id).toBe(res.body.session_id);
      await http()
        .patch(`/api/history/${res.body.session_id}`)
        .set(as(reader.key))
        .send({ title: 'x' })
        .expect(403);
      const writer = await createKey(alice, { name: 'write', scopes: ['history:write'] });
      await http()
        .patch(`/api/history/${res.body.session_id}`)
        .set(as(writer.key))
        .send({ title: 'Renamed by key' })
        .expect(200);
    });

    it('cannot manage keys or the account (403)', async () => {
      const key = await createKey(alice, {
        name: 'all',
        scopes: ['chat', 'history:read', 'history:write', 'models'],
      });
      for (const call of [
        http().get('/api/keys'),
        http()
          .post('/api/keys')
          .send({ name: 'k', scopes: ['chat'] }),
        http().delete(`/api/keys/${key.id}`),
        http().get('/api/users/me'),
        http().delete('/api/users/me'),
      ]) {
        const res = await call.set(as(key.key));
        expect({ status: res.status, body: res.body }).toEqual({
          status: 403,
          body: KEYS_FORBIDDEN,
        });
      }
    });

    it('refuses unknown, tampered and expired keys with 401', async () => {
      const key = await createKey(alice, { name: 'e', scopes: ['models'], expires_in_days: 1 });
      const tampered = key.key.slice(0, -1) + (key.key.endsWith('A') ? 'B' : 'A');
      for (const token of [tampered, 'sk-cb-short', `sk-cb-${'x'.repeat(43)}`]) {
        const res = await http().get('/api/models').set(as(token)).expect(401);
        expect(res.body).toEqual({ detail: 'Invalid API key' });
        expect(res.headers['www-authenticate']).toBe('Bearer');
      }
      await db
        .getRepository(ApiKey)
        .update({ id: key.id }, { expiresAt: new Date(Date.now() - 1000) });
      const expired = await http().get('/api/models').set(as(key.key)).expect(401);
      expect(expired.body).toEqual({ detail: 'API key has expired' });
    });

    it("answers 403 for a disabled account's key", async () => {
      const user = await registerAndLogin(t.url);
      const key = await createKey(user, { name: 'd', scopes: ['models'] });
      await db.getRepository(User).update({ id: user.id }, { isActive: false });
      const res = await http().get('/api/models').set(as(key.key)).expect(403);
      expect(res.body).toEqual({ detail: 'Account is disabled' });
    });

    it('connects Socket.IO with a chat key, and refuses a key without the scope', async () => {
      const chatKey = await createKey(alice, { name: 's', scopes: ['chat'] });
      const socket = await connectChatSocket(t.url, chatKey.key);
      try {
        const ok = await socket.emitWithAck('chat:send', { message: 'over a socket' });
        expect(ok).toMatchObject({ ok: true, session_id: expect.any(String) });
        // Revoked while connected: the next event is refused.
        await http().delete(`/api/keys/${chatKey.id}`).set(as(alice.token)).expect(204);
        const refused = await socket.emitWithAck('chat:send', { message: 'after revocation' });
        expect(refused).toEqual({ ok: false, detail: 'Invalid API key', status: 401 });
      } finally {
        socket.disconnect();
      }
      const modelsKey = await createKey(alice, { name: 'm', scopes: ['models'] });
      await expect(connectChatSocket(t.url, modelsKey.key)).rejects.toThrow(/forbidden/);
    });

    it('are deleted with their user', async () => {
      const user = await registerAndLogin(t.url);
      const key = await createKey(user, { name: 'gone', scopes: ['models'] });
      await http().delete('/api/users/me').set(as(user.token)).expect(204);
      expect(await db.getRepository(ApiKey).countBy({ id: key.id })).toBe(0);
      await http().get('/api/models').set(as(key.key)).expect(401);
    });
  });

  describe('rate limit', () => {
    let limited: TestApp;
    beforeAll(async () => {
      limited = await startTestApp({
        RATE_LIMIT__DEFAULT_PER_MINUTE: '6',
        RATE_LIMIT__AUTH_PER_MINUTE: '100',
      });
    });
    afterAll(() => limited.close());

    it("counts a user's keys in the user's own budget, not the IP's", async () => {
      const user = await registerAndLogin(limited.url);
      const api = () => request(limited.url);
      const key = (
        await api()
          .post('/api/keys')
          .set(as(user.token))
          .send({ name: 'k', scopes: ['models'] })
          .expect(201)
      ).body.key as string;
      // Creating the key was the first of the user's 6 requests.
      for (let i = 0; i < 3; i++) await api().get('/api/models').set(as(key)).expect(200);
      for (let i = 0; i < 2; i++) await api().get('/api/models').set(as(user.token)).expect(200);
      const res = await api().get('/api/models').set(as(key));
      expect(res.status).toBe(429);
      expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
      // Another user from the same IP still has a budget.
      const other = await registerAndLogin(limited.url);
      await api().get('/api/models').set(as(other.token)).expect(200);
    });

    it("limits a key with rate_limit_per_minute on its own, leaving the user's budget to the rest", async () => {
      const user = await registerAndLogin(limited.url);
      const api = () => request(limited.url);
      const created = await api()
        .post('/api/keys')
        .set(as(user.token))
        .send({ name: 'slow', scopes: ['models'], rate_limit_per_minute: 2 })
        .expect(201);
      expect(created.body.rate_limit_per_minute).toBe(2);
      for (let i = 0; i < 2; i++) {
        await api().get('/api/models').set(as(created.body.key)).expect(200);
      }
      const res = await api().get('/api/models').set(as(created.body.key)).expect(429);
      expect(res.body.detail).toMatch(/^Too many requests; retry in \d+ seconds?$/);
      // The user (4 of 6 used, the refused request included) still gets through with a token.
      await api().get('/api/models').set(as(user.token)).expect(200);
    });
  });
});
