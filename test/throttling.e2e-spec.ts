import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { describeE2e, startTestApp, TestApp } from '@app/testing';

const PASSWORD = 'correct horse battery';
const newEmail = () => `rl-${randomUUID().slice(0, 8)}@example.com`;

/** Asserts the API's 429: `{detail}` plus a whole-second Retry-After within the window. */
function expectRateLimited(res: request.Response, maxSeconds: number, detail?: string): void {
  expect(res.status).toBe(429);
  expect(res.body).toEqual({
    detail: detail ?? expect.stringMatching(/^Too many requests; retry in \d+ seconds?$/),
  });
  const retryAfter = Number(res.headers['retry-after']);
  expect(Number.isInteger(retryAfter)).toBe(true);
  expect(retryAfter).toBeGreaterThanOrEqual(1);
  expect(retryAfter).toBeLessThanOrEqual(maxSeconds);
}

describeE2e('throttling', () => {
  describe('per-IP auth limit (no TRUST_PROXY)', () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await startTestApp({ RATE_LIMIT__AUTH_PER_MINUTE: '4' });
    });
    afterAll(() => t.close());

    it('is shared by register, login, refresh and password reset, and ignores X-Forwarded-For', async () => {
      const email = newEmail();
      const http = () => request(t.url);
      await http().post('/api/auth/register').send({ email, password: PASSWORD }).expect(201);
      const login = await http()
        .post('/api/auth/login')
        .send({ email, password: PASSWORD })
        .expect(200);
      await http()
        .post('/api/auth/refresh')
        .send({ refresh_token: login.body.refresh_token })
        .expect(200);
      await http().post('/api/auth/password-reset/request').send({ email }).expect(202);

      // Over the limit: every auth route answers 429, whatever X-Forwarded-For claims.
      for (const [path, body] of [
        ['/api/auth/login', { email, password: PASSWORD }],
        ['/api/auth/register', { email: newEmail(), password: PASSWORD }],
        ['/api/auth/password-reset/confirm', { token: 'x', new_password: PASSWORD }],
      ] as const) {
        const res = await http()
          .post(path)
          .set('X-Forwarded-For', `198.51.100.${Math.floor(Math.random() * 250)}`)
          .send(body);
        expectRateLimited(res, 60);
      }

      // Routes outside the auth group are not affected by the auth limit.
      await http()
        .get('/api/users/me')
        .set('Authorization', `Bearer ${login.body.access_token}`)
        .expect(200);
    });
  });

  describe('default per-client limit', () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await startTestApp({
        RATE_LIMIT__DEFAULT_PER_MINUTE: '6',
        RATE_LIMIT__AUTH_PER_MINUTE: '100',
      });
    });
    afterAll(() => t.close());

    it('counts per user for valid bearers and per IP otherwise; never limits /health', async () => {
      const http = () => request(t.url);
      const tokens: string[] = [];
      // 4 anonymous requests from this IP.
      for (let i = 0; i < 2; i++) {
        const email = newEmail();
        await http().post('/api/auth/register').send({ email, password: PASSWORD }).expect(201);
        const res = await http()
          .post('/api/auth/login')
          .send({ email, password: PASSWORD })
          .expect(200);
        tokens.push(res.body.access_token);
      }
      const me = (token?: string) => {
        const req = http().get('/api/users/me');
        return token ? req.set('Authorization', `Bearer ${token}`) : req;
      };

      // User A has a budget of its own (6), over all routes together.
      for (let i = 0; i < 3; i++) await me(tokens[0]).expect(200);
      await http()
        .post('/api/auth/logout')
        .set('Authorization', `Bearer ${tokens[0]}`)
        .send({})
        .expect(204);
      for (let i = 0; i < 2; i++) await me(tokens[0]).expect(200);
      expectRateLimited(await me(tokens[0]), 60);

      // User B, same IP, is unaffected.
      await me(tokens[1]).expect(200);

      // The IP has used 4; invalid tokens count against the IP like anonymous requests.
      expect((await me('not-a-valid-token')).status).toBe(401);
      expect((await me()).status).toBe(401);
      expectRateLimited(await me(), 60);
      expectRateLimited(await me('still-invalid'), 60);

      // Probes and scrapers are never throttled.
      for (let i = 0; i < 10; i++) {
        await http().get('/health/live').expect(200);
      }
      await http().get('/health/ready').expect(200);
    });
  });

  describe('per-account login failures', () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await startTestApp({
        RATE_LIMIT__LOGIN_FAILURES_PER_ACCOUNT: '3',
        RATE_LIMIT__AUTH_PER_MINUTE: '100',
      });
    });
    afterAll(() => t.close());

    const lockedDetail = 'Too many failed logins for this account; try again later';

    it('locks an account for 15 minutes after N failures, even for the right password', async () => {
      const http = () => request(t.url);
      const email = newEmail();
      const bystander = newEmail();
      for (const address of [email, bystander]) {
        await http()
          .post('/api/auth/register')
          .send({ email: address, password: PASSWORD })
          .expect(201);
      }
      // Case and padding variants are the same account.
      for (const variant of [email, email.toUpperCase(), ` ${email} `]) {
        const res = await http()
          .post('/api/auth/login')
          .send({ email: variant, password: 'wrong-password' });
        expect(res.status).toBe(401);
        expect(res.body).toEqual({ detail: 'Incorrect email or password' });
      }
      const locked = await http().post('/api/auth/login').send({ email, password: PASSWORD });
      expectRateLimited(locked, 15 * 60, lockedDetail);
      expect(Number(locked.headers['retry-after'])).toBeGreaterThan(14 * 60);

      const form = await http()
        .post('/api/auth/login')
        .type('form')
        .send({ username: email, password: PASSWORD });
      expectRateLimited(form, 15 * 60, lockedDetail);

      // Other accounts from the same IP log in normally.
      await http()
        .post('/api/auth/login')
        .send({ email: bystander, password: PASSWORD })
        .expect(200);
    });

    it('treats unknown accounts the same way (no enumeration)', async () => {
      const http = () => request(t.url);
      const ghost = newEmail();
      for (let i = 0; i < 3; i++) {
        const res = await http()
          .post('/api/auth/login')
          .send({ email: ghost, password: 'whatever-pass' });
        expect(res.status).toBe(401);
        expect(res.body).toEqual({ detail: 'Incorrect email or password' });
      }
      const res = await http()
        .post('/api/auth/login')
        .send({ email: ghost, password: 'whatever-pass' });
      expectRateLimited(res, 15 * 60, lockedDetail);
    });
  });

  describe('behind a proxy (TRUST_PROXY=1)', () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await startTestApp({ TRUST_PROXY: '1', RATE_LIMIT__AUTH_PER_MINUTE: '2' });
    });
    afterAll(() => t.close());

    const attempt = (forwardedFor: string) =>
      request(t.url)
        .post('/api/auth/password-reset/request')
        .set('X-Forwarded-For', forwardedFor)
        .send({ email: newEmail() });

    it('limits by the client address the proxy appended, not by spoofable left entries', async () => {
      expect((await attempt('203.0.113.10')).status).toBe(202);
      expect((await attempt('203.0.113.10')).status).toBe(202);
      expectRateLimited(await attempt('203.0.113.10'), 60);
      // A client that puts a fake address in front is still seen as 203.0.113.10.
      expectRateLimited(await attempt('192.0.2.99, 203.0.113.10'), 60);
      // A different client behind the same proxy has its own budget.
      expect((await attempt('203.0.113.11')).status).toBe(202);
      expect((await attempt('192.0.2.99, 203.0.113.11')).status).toBe(202);
      expectRateLimited(await attempt('203.0.113.11'), 60);
    });
  });
});
