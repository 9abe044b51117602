import { randomBytes } from 'node:crypto';
import { getConnectionToken } from '@nestjs/mongoose';
import type { Connection } from 'mongoose';
import request from 'supertest';
import { DataSource } from 'typeorm';
import {
  connectChatSocket,
  describeE2e,
  describeWithServices,
  ProviderSimulator,
  registerAndLogin,
  serviceUrl,
  startTestApp,
  testDatabaseKind,
  type LoggedInUser,
  type TestApp,
} from '@app/testing';
import { HistoryStore } from '../src/history/history-store.interface';
import { UsageLedger } from '../src/usage/usage-ledger';

const newEmail = (prefix: string) => `${prefix}-${randomBytes(5).toString('hex')}@example.com`;
const as = (token: string) => ({ Authorization: `Bearer ${token}` });

/** The admin API end to end: roles, bootstrap, disabling, quotas, deletion, providers, audit. */
describeE2e('admin API', () => {
  let t: TestApp;
  let db: DataSource;
  let admin: LoggedInUser;
  const adminEmail = newEmail('boss');

  beforeAll(async () => {
    t = await startTestApp({
      ADMIN_EMAILS: `someone-else@example.com, ${adminEmail.toUpperCase()}`,
      RATE_LIMIT__AUTH_PER_MINUTE: '10000',
      RATE_LIMIT__LOGIN_FAILURES_PER_ACCOUNT: '3',
    });
    db = t.app.get(DataSource);
    admin = await registerAndLogin(t.url, adminEmail);
  });
  afterAll(() => t?.close());

  const http = () => request(t.url);
  const p = (n: number) => (db.options.type === 'postgres' ? `$${n}` : '?');
  const count = async (sql: string, id: string) =>
    Number((await db.query(`${sql} ${p(1)}`, [id]))[0].n);

  async function createKey(user: LoggedInUser, scopes = ['models', 'chat']): Promise<string> {
    const res = await http()
      .post('/api/keys')
      .set(as(user.token))
      .send({ name: 'k', scopes })
      .expect(201);
    return res.body.key as string;
  }

  const chat = (user: LoggedInUser, message = 'hello admin') =>
    http().post('/api/chat').set(as(user.token)).send({ message, model: 'local/echo' });

  async function auditOf(query: Record<string, string>) {
    const res = await http().get('/api/admin/audit').set(as(admin.token)).query(query).expect(200);
    return res.body as { items: Record<string, unknown>[]; total: number };
  }

  const patch = (userId: string, body: unknown, token = admin.token) =>
    http()
      .patch(`/api/admin/users/${userId}`)
      .set(as(token))
      .send(body as object);

  describe('access', () => {
    it('makes an ADMIN_EMAILS account an admin at registration, and only that one', async () => {
      await http().get('/api/admin/users').set(as(admin.token)).expect(200);
      const res = await http()
        .get('/api/admin/users')
        .set(as(admin.token))
        .query({ q: adminEmail })
        .expect(200);
      expect(res.body.items).toEqual([
        expect.objectContaining({ email: adminEmail, role: 'admin', is_active: true }),
      ]);
    });

    it('refuses a normal user (403), an API key even of an admin (403) and no token (401)', async () => {
      const user = await registerAndLogin(t.url);
      const adminKey = await createKey(admin);
      const routes: [string, string][] = [
        ['get', '/api/admin/users'],
        ['patch', `/api/admin/users/${user.id}`],
        ['delete', `/api/admin/users/${user.id}`],
        ['get', '/api/admin/providers'],
        ['get', '/api/admin/audit'],
        ['get', '/api/admin/usage'],
      ];
      for (const [method, path] of routes) {
        const call = () =>
          (http() as unknown as Record<string, (path: string) => request.Test>)[method](path);
        const normal = await call().set(as(user.token)).send({ is_active: false });
        expect([method, path, normal.status, normal.body]).toEqual([
          method,
          path,
          403,
          { detail: 'Admin role required' },
        ]);
        const keyed = await call().set(as(adminKey)).send({ is_active: false });
        expect([method, path, keyed.status]).toEqual([method, path, 403]);
        expect(keyed.body.detail).toMatch(/API keys cannot be used here/);
        const anonymous = await call().send({ is_active: false });
        expect([method, path, anonymous.status]).toEqual([method, path, 401]);
      }
      // Nothing happened to the user.
      await http().get('/api/users/me').set(as(user.token)).expect(200);
    });

    it('grants and revokes the admin role, effective on the next request', async () => {
      const user = await registerAndLogin(t.url);
      const granted = await patch(user.id, { role: 'admin' }).expect(200);
      expect(granted.body.role).toBe('admin');
      await http().get('/api/admin/providers').set(as(user.token)).expect(200);
      await patch(user.id, { role: 'user' }).expect(200);
      await http().get('/api/admin/providers').set(as(user.token)).expect(403);
    });

    it('never leaves the service without an active admin (409)', async () => {
      const res = await patch(admin.id, { role: 'user' }).expect(409);
      expect(res.body).toEqual({
        detail: 'This is the last active admin: grant the role to another account first',
      });
      await patch(admin.id, { is_active: false }).expect(409);
      await http().delete(`/api/admin/users/${admin.id}`).set(as(admin.token)).expect(409);
      // With a second admin, the first may step down.
      const deputy = await registerAndLogin(t.url);
      await patch(deputy.id, { role: 'admin' }).expect(200);
      await patch(admin.id, { role: 'user' }, deputy.token).expect(200);
      await patch(admin.id, { role: 'admin' }, deputy.token).expect(200);
      await patch(deputy.id, { role: 'user' }).expect(200);
    });
  });

  describe('GET /api/admin/users', () => {
    it('searches e-mails and shows usage from history and the quota counters', async () => {
      const user = await registerAndLogin(t.url, newEmail('usage'));
      const reply = await chat(user).expect(200);
      const { prompt_tokens, completion_tokens } = reply.body.usage;
      await t.app.get(UsageLedger).flush();
      const res = await http()
        .get('/api/admin/users')
        .set(as(admin.token))
        .query({ q: user.email.slice(0, 12).toUpperCase() })
        .expect(200);
      expect(res.body).toEqual({ items: [expect.any(Object)], page: 1, per_page: 20, total: 1 });
      expect(res.body.items[0]).toEqual({
        id: user.id,
        email: user.email,
        role: 'user',
        is_active: true,
        email_verified: false,
        created_at: expect.stringMatching(/Z$/),
        quota: {
          requests_per_minute: 60,
          tokens_per_day: 1_000_000,
          requests_per_minute_overridden: false,
          tokens_per_day_overridden: false,
        },
        budget: {
          usd_per_day: 0,
          usd_per_month: 0,
          usd_per_day_overridden: false,
          usd_per_month_overridden: false,
        },
        usage: {
          sessions: 1,
          messages: 2,
          prompt_tokens,
          completion_tokens,
          tokens_today: prompt_tokens + completion_tokens,
          // From the usage ledger; local/echo is free.
          requests_this_month: 1,
          tokens_this_month: prompt_tokens + completion_tokens,
          cost_usd_this_month: 0,
          cost_unknown_requests_this_month: 0,
        },
      });
      expect(prompt_tokens).toBeGreaterThan(0);
    });

    it('treats % and _ in q literally and pages newest first', async () => {
      const none = await http()
        .get('/api/admin/users')
        .set(as(admin.token))
        .query({ q: '%_%' })
        .expect(200);
      expect(none.body.total).toBe(0);
      const first = await http()
        .get('/api/admin/users')
        .set(as(admin.token))
        .query({ per_page: 1 })
        .expect(200);
      const second = await http()
        .get('/api/admin/users')
        .set(as(admin.token))
        .query({ per_page: 1, page: 2 })
        .expect(200);
      expect(first.body.items).toHaveLength(1);
      expect(second.body.items[0].id).not.toBe(first.body.items[0].id);
      expect(first.body.items[0].created_at >= second.body.items[0].created_at).toBe(true);
    });

    it.each([
      [{ per_page: '101' }, 'per_page must not be greater than 100'],
      [{ page: '0' }, 'page must be at least 1'],
      [{ page: 'x' }, 'page must be a whole number'],
      [{ q: 'x'.repeat(255) }, 'q must be at most 254 characters'],
      [{ sort: 'email' }, 'sort is not an allowed field'],
    ])('answers 400 for %j', async (query, detail) => {
      const res = await http().get('/api/admin/users').set(as(admin.token)).query(query);
      expect(res.status).toBe(400);
      expect(res.body.detail).toBe(detail);
    });
  });

  describe('PATCH /api/admin/users/{id}', () => {
    it('disables an account: its access token, refresh token and API key stop working', async () => {
      const user = await registerAndLogin(t.url);
      const key = await createKey(user);
      await http().get('/api/models').set(as(key)).expect(200);

      const res = await patch(user.id, { is_active: false }).expect(200);
      expect(res.body).toMatchObject({ id: user.id, is_active: false });

      expect((await http().get('/api/users/me').set(as(user.token))).body).toEqual({
        detail: 'Account is disabled',
      });
      await http().get('/api/users/me').set(as(user.token)).expect(403);
      await http().get('/api/models').set(as(key)).expect(403);
      const refresh = await http()
        .post('/api/auth/refresh')
        .send({ refresh_token: user.refreshToken });
      expect([401, 403]).toContain(refresh.status);
      await http()
        .post('/api/auth/login')
        .send({ email: user.email, password: user.password })
        .expect(403);

      await patch(user.id, { is_active: true }).expect(200);
      await http().get('/api/users/me').set(as(user.token)).expect(200);
      await http().get('/api/models').set(as(key)).expect(200);
      // Refresh tokens were revoked on disabling: the user signs in again.
      await http().post('/api/auth/refresh').send({ refresh_token: user.refreshToken }).expect(401);
      await http()
        .post('/api/auth/login')
        .send({ email: user.email, password: user.password })
        .expect(200);

      const audit = await auditOf({ actor: admin.email });
      const mine = audit.items.filter((entry) => entry.target === `user:${user.id}`);
      expect(mine.map((entry) => entry.action)).toEqual(['user.enabled', 'user.disabled']);
      expect(mine[1]).toEqual({
        id: expect.any(String),
        at: expect.stringMatching(/Z$/),
        actor_id: admin.id,
        actor_email: admin.email,
        action: 'user.disabled',
        target: `user:${user.id}`,
        details: { email: user.email },
        ip: expect.stringMatching(/127\.0\.0\.1/),
      });
    });

    it("overrides a user's quotas, applied by the chat quota check; null restores the default", async () => {
      const user = await registerAndLogin(t.url);
      const res = await patch(user.id, { requests_per_minute: 2, tokens_per_day: 500000 }).expect(
        200,
      );
      expect(res.body.quota).toEqual({
        requests_per_minute: 2,
        tokens_per_day: 500000,
        requests_per_minute_overridden: true,
        tokens_per_day_overridden: true,
      });
      await chat(user).expect(200);
      await chat(user).expect(200);
      const limited = await chat(user).expect(429);
      expect(limited.body.detail).toBe('Too many chat requests: at most 2 per minute');
      expect(Number(limited.headers['retry-after'])).toBeGreaterThanOrEqual(1);

      const cleared = await patch(user.id, { requests_per_minute: null }).expect(200);
      expect(cleared.body.quota).toMatchObject({
        requests_per_minute: 60,
        requests_per_minute_overridden: false,
      });
      await chat(user).expect(200);

      await patch(user.id, { tokens_per_day: 1 }).expect(200);
      const spent = await chat(user).expect(429);
      expect(spent.body.detail).toBe(
        'Daily token quota of 1 tokens used up; it resets at 00:00 UTC',
      );

      const audit = await auditOf({ action: 'user.quota_changed' });
      expect(audit.items.find((entry) => entry.target === `user:${user.id}`)).toMatchObject({
        details: { email: user.email, tokens_per_day: { from: 500000, to: 1 } },
      });
    });

    it.each([
      [
        {},
        'Give at least one of: is_active, role, requests_per_minute, tokens_per_day, usd_per_day, usd_per_month',
      ],
      [{ role: 'root' }, 'role must be one of: user, admin'],
      [{ role: null }, 'role must be one of: user, admin'],
      [{ is_active: 'no' }, 'is_active must be true or false'],
      [{ is_active: null }, 'is_active must be true or false'],
      [{ requests_per_minute: 0 }, 'requests_per_minute must be at least 1'],
      [{ tokens_per_day: 1.5 }, 'tokens_per_day must be a whole number'],
      [{ tokens_per_day: 3_000_000_000 }, 'tokens_per_day must not be greater than 2000000000'],
      [{ usd_per_day: -0.01 }, 'usd_per_day must be at least 0'],
      [{ usd_per_day: '5' }, 'usd_per_day must be a number'],
      [{ usd_per_month: 2_000_000 }, 'usd_per_month must not be greater than 1000000'],
      [{ email: 'x@example.com' }, 'email is not an allowed field'],
    ])('answers 400 for %j', async (body, detail) => {
      const user = await registerAndLogin(t.url);
      const res = await patch(user.id, body);
      expect(res.status).toBe(400);
      expect(res.body.detail).toBe(detail);
    });

    it('answers 404 for an unknown id and 400 for a body that is not JSON', async () => {
      const res = await patch('00000000-0000-4000-8000-000000000000', { is_active: false });
      expect(res.status).toBe(404);
      expect(res.body).toEqual({ detail: 'User not found' });
      await patch('not-a-uuid', { is_active: false }).expect(404);
      const user = await registerAndLogin(t.url);
      const form = await http()
        .patch(`/api/admin/users/${user.id}`)
        .set(as(admin.token))
        .type('form')
        .send('is_active=false');
      expect(form.status).toBe(415);
    });
  });

  describe('DELETE /api/admin/users/{id}', () => {
    it("deletes the user's history, keys and tokens; the audit log keeps the entry", async () => {
      const user = await registerAndLogin(t.url);
      await createKey(user);
      await chat(user).expect(200);
      expect(await count('SELECT COUNT(*) AS n FROM chat_sessions WHERE user_id =', user.id)).toBe(
        1,
      );

      await http().delete(`/api/admin/users/${user.id}`).set(as(admin.token)).expect(204);

      for (const table of [
        'users WHERE id =',
        'chat_sessions WHERE user_id =',
        'api_keys WHERE user_id =',
        'refresh_tokens WHERE user_id =',
      ]) {
        expect([table, await count(`SELECT COUNT(*) AS n FROM ${table}`, user.id)]).toEqual([
          table,
          0,
        ]);
      }
      await http().get('/api/users/me').set(as(user.token)).expect(401);
      await http().delete(`/api/admin/users/${user.id}`).set(as(admin.token)).expect(404);
      const audit = await auditOf({ action: 'user.deleted' });
      expect(audit.items.find((entry) => entry.target === `user:${user.id}`)).toMatchObject({
        actor_id: admin.id,
        details: { email: user.email, role: 'user' },
      });
    });
  });

  describe('GET /api/admin/providers', () => {
    it('shows each configured key by alias with circuit state and recent outcomes', async () => {
      const user = await registerAndLogin(t.url);
      await chat(user).expect(200);
      const res = await http().get('/api/admin/providers').set(as(admin.token)).expect(200);
      expect(res.body.window_seconds).toBe(300);
      const local = res.body.items.find((item: { provider: string }) => item.provider === 'local');
      expect(local.keys).toEqual([
        {
          alias: 'local#0',
          circuit: 'closed',
          disabled: false,
          cooldown_ms: 0,
          ready: true,
          recent: { attempts: expect.any(Number), errors: 0, error_rate: 0 },
        },
      ]);
      expect(local.keys[0].recent.attempts).toBeGreaterThanOrEqual(1);
    });
  });

  describe('audit log', () => {
    it('records security events: login lock, refresh-token reuse, API key revocation', async () => {
      const user = await registerAndLogin(t.url);
      for (let i = 0; i < 3; i++) {
        await http()
          .post('/api/auth/login')
          .send({ email: user.email, password: 'wrong password!' })
          .expect(401);
      }
      await http()
        .post('/api/auth/login')
        .send({ email: user.email, password: user.password })
        .expect(429);
      const locked = await auditOf({ action: 'auth.login_locked' });
      expect(locked.items.find((entry) => entry.target === `email:${user.email}`)).toMatchObject({
        actor_id: null,
        details: { account_exists: true },
        ip: expect.stringMatching(/127\.0\.0\.1/),
      });

      const other = await registerAndLogin(t.url);
      await http()
        .post('/api/auth/refresh')
        .send({ refresh_token: other.refreshToken })
        .expect(200);
      await http()
        .post('/api/auth/refresh')
        .send({ refresh_token: other.refreshToken })
        .expect(401);
      const reused = await auditOf({ action: 'auth.refresh_token_reused' });
      expect(reused.items.find((entry) => entry.target === `user:${other.id}`)).toMatchObject({
        details: { family_id: expect.any(String) },
      });

      const created = await http()
        .post('/api/keys')
        .set(as(other.token))
        .send({ name: 'to revoke', scopes: ['models'] })
        .expect(201);
      await http().delete(`/api/keys/${created.body.id}`).set(as(other.token)).expect(204);
      const revoked = await auditOf({ action: 'api_key.revoked', actor: other.id });
      expect(revoked.items).toEqual([
        expect.objectContaining({
          actor_email: other.email,
          target: `api_key:${created.body.id}`,
          details: { name: 'to revoke', prefix: created.body.prefix, owner_id: other.id },
        }),
      ]);
    });

    it('filters by actor, action and time range, newest first, paginated', async () => {
      const user = await registerAndLogin(t.url);
      const before = new Date(Date.now() - 1000).toISOString();
      await patch(user.id, { requests_per_minute: 7 }).expect(200);
      await patch(user.id, { requests_per_minute: 8 }).expect(200);
      const after = new Date(Date.now() + 1000).toISOString();

      const page = await auditOf({
        action: 'user.quota_changed',
        actor: admin.email.toUpperCase(),
        from: before,
        to: after,
        per_page: '1',
      });
      expect(page.total).toBeGreaterThanOrEqual(2);
      expect(page.items).toHaveLength(1);
      expect(page.items[0]).toMatchObject({
        target: `user:${user.id}`,
        details: { requests_per_minute: { from: 7, to: 8 } },
      });
      expect(
        (await auditOf({ action: 'user.quota_changed', to: before })).items,
      ).not.toContainEqual(expect.objectContaining({ target: `user:${user.id}` }));
      expect((await auditOf({ actor: user.id })).total).toBe(0);
    });

    it.each([
      [{ action: 'user.hacked' }, /^action must be one of: admin.bootstrap, /],
      [{ from: 'yesterday' }, /^from must be an ISO-8601 date-time$/],
      [{ to: '2026-13-01' }, /^to must be an ISO-8601 date-time$/],
      [
        { from: '2026-12-02T00:00:00Z', to: '2026-12-01T00:00:00Z' },
        /^from must not be later than to$/,
      ],
      [{ per_page: '0' }, /^per_page must be at least 1$/],
    ])('answers 400 for %j', async (query, detail) => {
      const res = await http().get('/api/admin/audit').set(as(admin.token)).query(query);
      expect(res.status).toBe(400);
      expect(res.body.detail).toMatch(detail);
    });

    it('is append-only in the database: UPDATE and DELETE are refused', async () => {
      await expect(db.query("UPDATE audit_log SET action = 'user.enabled'")).rejects.toThrow(
        /append-only/,
      );
      await expect(db.query('DELETE FROM audit_log')).rejects.toThrow(/append-only/);
      expect((await auditOf({})).total).toBeGreaterThan(0);
    });
  });
});

/** ADMIN_EMAILS at start-up promotes accounts that registered before it listed them. */
describeE2e('admin bootstrap at start-up', () => {
  let first: TestApp;
  let second: TestApp | undefined;

  afterAll(async () => {
    await second?.app.close();
    await first?.close();
  });

  it('makes an existing account an admin at start-up and audits it as the system', async () => {
    first = await startTestApp({});
    const early = await registerAndLogin(first.url, newEmail('early'));
    await request(first.url).get('/api/admin/users').set(as(early.token)).expect(403);

    second = await startTestApp({
      DATABASE_URL: first.database.url,
      SECRET_KEY: first.config.security.secretKey,
      ADMIN_EMAILS: early.email,
    });
    // The role is read on every request: the first instance sees it too.
    for (const app of [first, second]) {
      await request(app.url).get('/api/admin/users').set(as(early.token)).expect(200);
    }
    const audit = await request(second.url)
      .get('/api/admin/audit')
      .set(as(early.token))
      .query({ action: 'admin.bootstrap' })
      .expect(200);
    expect(audit.body.items).toEqual([
      expect.objectContaining({
        actor_id: null,
        target: `user:${early.id}`,
        details: { email: early.email, source: 'ADMIN_EMAILS' },
        ip: null,
      }),
    ]);
  });
});

/** With HISTORY_STORE=mongo, deleting a user erases the history kept in MongoDB too. */
describeWithServices(
  testDatabaseKind() === 'postgres' ? ['mongo', 'postgres'] : ['mongo'],
  `admin user deletion on the Mongo history store [${testDatabaseKind()}]`,
  () => {
    let t: TestApp;

    beforeAll(async () => {
      const uri = new URL(serviceUrl('mongo')!);
      uri.pathname = `/admin_e2e_${randomBytes(6).toString('hex')}`;
      const adminEmail = newEmail('mongo-boss');
      t = await startTestApp({
        HISTORY_STORE: 'mongo',
        MONGO_URI: uri.toString(),
        ADMIN_EMAILS: adminEmail,
      });
    });
    afterAll(async () => {
      if (!t) return;
      await t.app.get<Connection>(getConnectionToken()).dropDatabase();
      await t.close();
    });

    it("shows the user's Mongo history in the list and erases it with the account", async () => {
      const admin = await registerAndLogin(t.url, t.config.admin.emails[0]);
      const user = await registerAndLogin(t.url);
      await request(t.url)
        .post('/api/chat')
        .set(as(user.token))
        .send({ message: 'kept in mongo', model: 'local/echo' })
        .expect(200);
      const store = t.app.get(HistoryStore);
      const listed = await request(t.url)
        .get('/api/admin/users')
        .set(as(admin.token))
        .query({ q: user.email })
        .expect(200);
      expect(listed.body.items[0].usage).toMatchObject({ sessions: 1, messages: 2 });

      await request(t.url).delete(`/api/admin/users/${user.id}`).set(as(admin.token)).expect(204);

      expect(await store.listSessions(user.id, { page: 1, perPage: 10 })).toEqual({
        items: [],
        total: 0,
      });
      expect((await store.usageByUser([user.id])).size).toBe(0);
    });
  },
);

/** Disabling and quota overrides on two instances sharing one database and one Redis. */
describeWithServices(
  testDatabaseKind() === 'postgres' ? ['redis', 'postgres'] : ['redis'],
  `disabling a user on two instances with Redis [${testDatabaseKind()}]`,
  () => {
    let a: TestApp;
    let b: TestApp;
    let admin: LoggedInUser;
    const adminEmail = `lb-admin-${Date.now()}@example.com`;

    beforeAll(async () => {
      const shared = { REDIS_URL: serviceUrl('redis'), ADMIN_EMAILS: adminEmail };
      a = await startTestApp(shared);
      b = await startTestApp({
        ...shared,
        DATABASE_URL: a.database.url,
        SECRET_KEY: a.config.security.secretKey,
      });
      admin = await registerAndLogin(a.url, adminEmail);
    });
    afterAll(async () => {
      await b?.close();
      await a?.close();
    });

    it("disabled on one instance: the user's token, refresh token, API key and open socket stop on the other within a second", async () => {
      const user = await registerAndLogin(a.url);
      const { key } = (
        await request(a.url)
          .post('/api/keys')
          .set(as(user.token))
          .send({ name: 'lb', scopes: ['models', 'chat'] })
          .expect(201)
      ).body as { key: string };
      await request(b.url).get('/api/users/me').set(as(user.token)).expect(200);
      await request(b.url).get('/v1/models').set(as(key)).expect(200);
      const socket = await connectChatSocket(b.url, user.token);

      try {
        await request(a.url)
          .patch(`/api/admin/users/${user.id}`)
          .set(as(admin.token))
          .send({ is_active: false })
          .expect(200);
        const disabledAt = Date.now();

        const me = await request(b.url).get('/api/users/me').set(as(user.token));
        expect([me.status, me.body]).toEqual([403, { detail: 'Account is disabled' }]);
        const models = await request(b.url).get('/v1/models').set(as(key));
        expect(models.status).toBe(403);
        const refresh = await request(b.url)
          .post('/api/auth/refresh')
          .send({ refresh_token: user.refreshToken });
        expect([401, 403]).toContain(refresh.status);
        const ack = (await socket
          .timeout(5_000)
          .emitWithAck('chat:send', { message: 'still there?', model: 'local/echo' })) as {
          ok: boolean;
          status: number;
          detail: string;
        };
        expect(ack).toEqual({ ok: false, status: 403, detail: 'Account is disabled' });
        expect(Date.now() - disabledAt).toBeLessThan(1000);

        // Enabled again on the other instance: the access token and the key work again at once.
        await request(b.url)
          .patch(`/api/admin/users/${user.id}`)
          .set(as(admin.token))
          .send({ is_active: true })
          .expect(200);
        await request(a.url).get('/api/users/me').set(as(user.token)).expect(200);
        await request(a.url).get('/v1/models').set(as(key)).expect(200);
      } finally {
        socket.close();
      }
    });

    it('shares per-user quota overrides between the instances', async () => {
      const user = await registerAndLogin(a.url);
      await request(b.url)
        .patch(`/api/admin/users/${user.id}`)
        .set(as(admin.token))
        .send({ requests_per_minute: 2 })
        .expect(200);
      for (const app of [a, b]) {
        await request(app.url)
          .post('/api/chat')
          .set(as(user.token))
          .send({ message: 'hi', model: 'local/echo' })
          .expect(200);
      }
      const limited = await request(a.url)
        .post('/api/chat')
        .set(as(user.token))
        .send({ message: 'hi', model: 'local/echo' });
      expect(limited.status).toBe(429);
      expect(limited.body.detail).toBe('Too many chat requests: at most 2 per minute');
    });
  },
);

/** Provider and key health as the resilience layer left it, against the provider simulator. */
describeE2e('admin provider health against the simulator', () => {
  const KEYS = ['sk-or-health-key-a', 'sk-or-health-key-b', 'sk-or-health-key-c'];
  let sim: ProviderSimulator;
  let t: TestApp;

  beforeAll(async () => {
    sim = new ProviderSimulator();
    const url = await sim.start();
    const adminEmail = newEmail('health-boss');
    t = await startTestApp({
      AI_SERVICES__OPEN_ROUTER_API_KEY_1: KEYS[0],
      AI_SERVICES__OPEN_ROUTER_API_KEY_2: KEYS[1],
      AI_SERVICES__OPEN_ROUTER_API_KEY_3: KEYS[2],
      AI_SERVICES__OPEN_ROUTER_BASE_URL: `${url}/api/v1`,
      AI_SERVICES__RETRY_BASE_MS: '1',
      ADMIN_EMAILS: adminEmail,
    });
  });
  afterAll(async () => {
    await t?.close();
    await sim?.stop();
  });

  it('shows a refused key, a cooling-down key and a healthy one by alias, never the key', async () => {
    const admin = await registerAndLogin(t.url, t.config.admin.emails[0]);
    const user = await registerAndLogin(t.url);
    // Round robin from the first key: refused (401) → the second is rate limited for 60 s (429)
    // → the third answers.
    sim.rejectKey(KEYS[0], 401);
    sim.script({ key: KEYS[1], status: 429, retryAfter: 60 });
    await request(t.url)
      .post('/api/chat')
      .set(as(user.token))
      .send({ message: 'hello', model: 'openrouter/openai/gpt-4o-mini' })
      .expect(200);
    expect(sim.requests.map((r) => r.apiKey)).toEqual(KEYS);

    const res = await request(t.url).get('/api/admin/providers').set(as(admin.token)).expect(200);
    const openrouter = res.body.items.find(
      (item: { provider: string }) => item.provider === 'openrouter',
    );
    expect(openrouter.keys).toEqual([
      {
        alias: 'openrouter#0',
        circuit: 'closed',
        disabled: true,
        cooldown_ms: 0,
        ready: false,
        recent: { attempts: 1, errors: 1, error_rate: 1 },
      },
      {
        alias: 'openrouter#1',
        circuit: 'closed',
        disabled: false,
        cooldown_ms: expect.any(Number),
        ready: false,
        recent: { attempts: 1, errors: 1, error_rate: 1 },
      },
      {
        alias: 'openrouter#2',
        circuit: 'closed',
        disabled: false,
        cooldown_ms: 0,
        ready: true,
        recent: { attempts: 1, errors: 0, error_rate: 0 },
      },
    ]);
    expect(openrouter.keys[1].cooldown_ms).toBeGreaterThan(50_000);
    expect(openrouter.keys[1].cooldown_ms).toBeLessThanOrEqual(60_000);
    for (const key of KEYS) expect(JSON.stringify(res.body)).not.toContain(key);
  });
});
