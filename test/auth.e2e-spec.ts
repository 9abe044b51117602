import { randomUUID } from 'node:crypto';
import { sign } from 'jsonwebtoken';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { describeE2e, startTestApp, TestApp } from '@app/testing';
import { RefreshToken } from '../src/auth/entities/refresh-token.entity';

const PASSWORD = 'correct horse battery';

/** A fresh address per test, so tests never depend on each other's accounts. */
const newEmail = () => `user-${randomUUID().slice(0, 8)}@example.com`;

const b64url = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');

describeE2e('auth', () => {
  let t: TestApp;

  beforeAll(async () => {
    // Generous limits: this suite tests auth logic; throttling has its own suite.
    t = await startTestApp({
      RATE_LIMIT__AUTH_PER_MINUTE: '10000',
      RATE_LIMIT__DEFAULT_PER_MINUTE: '10000',
      RATE_LIMIT__LOGIN_FAILURES_PER_ACCOUNT: '1000',
    });
  });
  afterAll(() => t.close());

  const http = () => request(t.url);

  async function register(email = newEmail(), password = PASSWORD) {
    const res = await http().post('/api/auth/register').send({ email, password }).expect(201);
    return { id: res.body.id as string, email, password };
  }

  async function login(email: string, password = PASSWORD) {
    const res = await http().post('/api/auth/login').send({ email, password }).expect(200);
    return res.body as { access_token: string; refresh_token: string; expires_in: number };
  }

  /** A JWT signed with the app's real secret and claims, with overrides. */
  function forgeToken(
    userId: string,
    overrides: { secret?: string; algorithm?: 'HS256' | 'HS512'; iss?: string; aud?: string } = {},
    expiresIn = 600,
  ) {
    const { jwtSecret, jwtIssuer, jwtAudience } = t.config.security;
    return sign({ sub: userId }, overrides.secret ?? jwtSecret, {
      algorithm: overrides.algorithm ?? 'HS256',
      issuer: overrides.iss ?? jwtIssuer,
      audience: overrides.aud ?? jwtAudience,
      expiresIn,
      jwtid: randomUUID(),
    });
  }

  describe('POST /api/auth/register', () => {
    it('creates an account, trimming and lower-casing the e-mail', async () => {
      const local = `Mixed.Case-${randomUUID().slice(0, 6)}`;
      const res = await http()
        .post('/api/auth/register')
        .send({ email: `  ${local}@Example.COM  `, password: PASSWORD })
        .expect(201);
      expect(res.body).toEqual({
        id: expect.any(String),
        email: `${local.toLowerCase()}@example.com`,
        created_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      });
      expect(Math.abs(Date.parse(res.body.created_at) - Date.now())).toBeLessThan(60_000);
      // The stored password is a bcrypt hash, never the password itself.
      const [row] = await t.app
        .get(DataSource)
        .query('SELECT password_hash FROM users WHERE id = $1'.replace('$1', placeholder(t)), [
          res.body.id,
        ]);
      expect(row.password_hash).toMatch(/^\$2[aby]\$04\$/);
    });

    it('rejects a duplicate e-mail (any case) with 409', async () => {
      const { email } = await register();
      const res = await http()
        .post('/api/auth/register')
        .send({ email: email.toUpperCase(), password: PASSWORD });
      expect(res.status).toBe(409);
      expect(res.body).toEqual({ detail: 'An account with this e-mail already exists' });
    });

    it.each([
      ['not-an-email', 'email must be a valid e-mail address'],
      ['missing-at.example.com', 'email must be a valid e-mail address'],
      ['a@b', 'email must be a valid e-mail address'],
      ["' OR '1'='1", 'email must be a valid e-mail address'],
      ['x@example.com; DROP TABLE users;--', 'email must be a valid e-mail address'],
      [`${'a'.repeat(250)}@example.com`, 'email must be a valid e-mail address'],
    ])('rejects the e-mail %j with 400', async (email, message) => {
      const res = await http().post('/api/auth/register').send({ email, password: PASSWORD });
      expect(res.status).toBe(400);
      expect(res.body).toEqual({ detail: message, errors: [{ field: 'email', message }] });
    });

    it('rejects a missing e-mail and a non-string e-mail', async () => {
      let res = await http().post('/api/auth/register').send({ password: PASSWORD });
      expect(res.status).toBe(400);
      expect(res.body).toEqual({
        detail: 'email is required',
        errors: [{ field: 'email', message: 'email is required' }],
      });
      res = await http().post('/api/auth/register').send({ email: 42, password: PASSWORD });
      expect(res.status).toBe(400);
      expect(res.body.detail).toBe('email must be a valid e-mail address');
    });

    it.each([
      ['seven77', 'password must be between 8 and 128 characters long'],
      ['x'.repeat(129), 'password must be between 8 and 128 characters long'],
      [12345678, 'password must be a string'],
      [undefined, 'password is required'],
    ])('rejects the password %j with 400', async (password, message) => {
      const res = await http().post('/api/auth/register').send({ email: newEmail(), password });
      expect(res.status).toBe(400);
      expect(res.body).toEqual({ detail: message, errors: [{ field: 'password', message }] });
    });

    it('accepts passwords of exactly 8 and 128 characters, counting emoji as one', async () => {
      await register(newEmail(), '12345678');
      const long = '😀'.repeat(128);
      const { email } = await register(newEmail(), long);
      await login(email, long);
    });

    it('distinguishes long passwords beyond bcrypt’s 72 bytes', async () => {
      const base = 'p'.repeat(100);
      const { email } = await register(newEmail(), `${base}A`);
      const res = await http()
        .post('/api/auth/login')
        .send({ email, password: `${base}B` });
      expect(res.status).toBe(401);
      await login(email, `${base}A`);
    });

    it('rejects unknown fields with 400', async () => {
      const res = await http()
        .post('/api/auth/register')
        .send({ email: newEmail(), password: PASSWORD, is_admin: true });
      expect(res.status).toBe(400);
      expect(res.body).toEqual({
        detail: 'is_admin is not an allowed field',
        errors: [{ field: 'is_admin', message: 'is_admin is not an allowed field' }],
      });
    });

    it('rejects malformed JSON, an array body and an empty body with 400', async () => {
      let res = await http()
        .post('/api/auth/register')
        .set('Content-Type', 'application/json')
        .send('{"email": "a@example.com", "password": ');
      expect(res.status).toBe(400);
      expect(res.body).toEqual({ detail: expect.stringMatching(/JSON/) });

      res = await http()
        .post('/api/auth/register')
        .set('Content-Type', 'application/json')
        .send('[]');
      expect(res.status).toBe(400);
      expect(res.body.detail).toBe('email is required; password is required');

      res = await http().post('/api/auth/register');
      expect(res.status).toBe(400);
      expect(res.body.detail).toBe('email is required; password is required');
    });

    it('stores SQL-looking input literally (parameterised queries)', async () => {
      const email = `o'brien-${randomUUID().slice(0, 6)}@example.com`;
      const password = "' OR '1'='1' --";
      await register(email, password);
      const tokens = await login(email, password);
      const me = await http()
        .get('/api/users/me')
        .set('Authorization', `Bearer ${tokens.access_token}`)
        .expect(200);
      expect(me.body.email).toBe(email);
      const wrong = await http().post('/api/auth/login').send({ email, password: "' OR 1=1 --" });
      expect(wrong.status).toBe(401);
    });
  });

  describe('POST /api/auth/login', () => {
    let account: { id: string; email: string; password: string };
    beforeAll(async () => {
      account = await register();
    });

    const expectTokenPair = (body: Record<string, unknown>) => {
      expect(body).toEqual({
        access_token: expect.stringMatching(/^[\w-]+\.[\w-]+\.[\w-]+$/),
        token_type: 'bearer',
        expires_in: t.config.security.accessTokenTtlSeconds,
        refresh_token: expect.stringMatching(/^[\w-]{43}$/),
      });
    };

    it('accepts JSON {email, password}', async () => {
      const res = await http()
        .post('/api/auth/login')
        .send({ email: account.email, password: PASSWORD })
        .expect(200);
      expectTokenPair(res.body);
    });

    it('accepts JSON {username, password} with a differently cased, padded e-mail', async () => {
      const res = await http()
        .post('/api/auth/login')
        .send({ username: ` ${account.email.toUpperCase()} `, password: PASSWORD })
        .expect(200);
      expectTokenPair(res.body);
    });

    it('accepts an OAuth2 password form (username, password, grant_type, scope)', async () => {
      const res = await http()
        .post('/api/auth/login')
        .type('form')
        .send({ grant_type: 'password', username: account.email, password: PASSWORD, scope: '' })
        .expect(200);
      expectTokenPair(res.body);
    });

    it('issues access tokens with sub, iat, exp, iss, aud and jti, signed HS256', async () => {
      const { access_token } = await login(account.email);
      const [header, payload] = access_token
        .split('.')
        .slice(0, 2)
        .map((part) => JSON.parse(Buffer.from(part, 'base64url').toString()));
      expect(header).toEqual({ alg: 'HS256', typ: 'JWT' });
      expect(payload).toEqual({
        sub: account.id,
        iat: expect.any(Number),
        exp: payload.iat + t.config.security.accessTokenTtlSeconds,
        iss: t.config.security.jwtIssuer,
        aud: t.config.security.jwtAudience,
        jti: expect.stringMatching(/^[0-9a-f-]{36}$/),
      });
    });

    it('answers a wrong password and an unknown e-mail with the same 401', async () => {
      const wrongPassword = await http()
        .post('/api/auth/login')
        .send({ email: account.email, password: 'not the password' });
      const unknownEmail = await http()
        .post('/api/auth/login')
        .send({ email: newEmail(), password: 'not the password' });
      expect(wrongPassword.status).toBe(401);
      expect(unknownEmail.status).toBe(401);
      expect(wrongPassword.body).toEqual({ detail: 'Incorrect email or password' });
      expect(unknownEmail.body).toEqual(wrongPassword.body);
      const sameHeaders = (res: request.Response) => ({
        type: res.headers['content-type'],
        length: res.headers['content-length'],
        auth: res.headers['www-authenticate'],
      });
      expect(sameHeaders(unknownEmail)).toEqual(sameHeaders(wrongPassword));
    });

    it.each([
      [{ email: 'nope', password: PASSWORD }, 'email must be a valid e-mail address', 'email'],
      [
        { username: 'nope', password: PASSWORD },
        'username must be a valid e-mail address',
        'username',
      ],
      [{ password: PASSWORD }, 'email (or username) is required', 'email'],
      [{ email: 'a@example.com' }, 'password is required', 'password'],
      [
        { email: 'a@example.com', password: '' },
        'password must be between 1 and 128 characters long',
        'password',
      ],
      [{ email: "admin'--", password: PASSWORD }, 'email must be a valid e-mail address', 'email'],
      [
        { email: 'a@example.com', password: PASSWORD, grant_type: 'client_credentials' },
        'grant_type must be "password"',
        'grant_type',
      ],
    ])('rejects %j with 400', async (body, message, field) => {
      const res = await http().post('/api/auth/login').send(body);
      expect(res.status).toBe(400);
      expect(res.body).toEqual({ detail: message, errors: [{ field, message }] });
    });

    it('rejects an invalid e-mail in the form variant with 400', async () => {
      const res = await http()
        .post('/api/auth/login')
        .type('form')
        .send({ username: 'not-an-email', password: PASSWORD });
      expect(res.status).toBe(400);
      expect(res.body.detail).toBe('username must be a valid e-mail address');
    });

    it('rejects two different addresses in email and username', async () => {
      const res = await http()
        .post('/api/auth/login')
        .send({ email: account.email, username: newEmail(), password: PASSWORD });
      expect(res.status).toBe(400);
      expect(res.body).toEqual({
        detail: 'Send either email or username, not two different addresses',
        errors: [{ field: 'username', message: 'username differs from email' }],
      });
    });

    it('rejects unknown fields and malformed JSON', async () => {
      let res = await http()
        .post('/api/auth/login')
        .send({ email: account.email, password: PASSWORD, remember: true });
      expect(res.status).toBe(400);
      expect(res.body.detail).toBe('remember is not an allowed field');
      res = await http()
        .post('/api/auth/login')
        .set('Content-Type', 'application/json')
        .send('{email:');
      expect(res.status).toBe(400);
      expect(res.body).toEqual({ detail: expect.stringMatching(/JSON/) });
    });
  });

  describe('bearer tokens', () => {
    let account: { id: string; email: string };
    let token: string;
    beforeAll(async () => {
      account = await register();
      token = (await login(account.email)).access_token;
    });

    const me = (authorization?: string) => {
      const req = http().get('/api/users/me');
      return authorization === undefined ? req : req.set('Authorization', authorization);
    };

    it('accepts a valid token (scheme case-insensitive)', async () => {
      await me(`Bearer ${token}`).expect(200);
      await me(`bearer ${token}`).expect(200);
    });

    it('rejects a missing token with 401 and WWW-Authenticate', async () => {
      const res = await me();
      expect(res.status).toBe(401);
      expect(res.body).toEqual({ detail: 'Not authenticated' });
      expect(res.headers['www-authenticate']).toBe('Bearer');
    });

    it.each([
      ['garbage', () => 'Bearer not.a.jwt'],
      ['another scheme', () => `Basic ${Buffer.from('a:b').toString('base64')}`],
      ['an empty bearer', () => 'Bearer '],
    ])('rejects %s with 401', async (_name, header) => {
      const res = await me(header());
      expect(res.status).toBe(401);
      expect(res.body).toEqual({
        detail: expect.stringMatching(/^(Not authenticated|Invalid access token)$/),
      });
    });

    it('rejects alg "none"', async () => {
      const { jwtIssuer, jwtAudience } = t.config.security;
      const now = Math.floor(Date.now() / 1000);
      const unsigned = `${b64url({ alg: 'none', typ: 'JWT' })}.${b64url({
        sub: account.id,
        iat: now,
        exp: now + 600,
        iss: jwtIssuer,
        aud: jwtAudience,
        jti: randomUUID(),
      })}.`;
      const res = await me(`Bearer ${unsigned}`);
      expect(res.status).toBe(401);
      expect(res.body).toEqual({ detail: 'Invalid access token' });
    });

    it('rejects a token with a tampered payload', async () => {
      const [header, , signature] = token.split('.');
      const now = Math.floor(Date.now() / 1000);
      const payload = b64url({ sub: randomUUID(), iat: now, exp: now + 600 });
      const res = await me(`Bearer ${header}.${payload}.${signature}`);
      expect(res.status).toBe(401);
      expect(res.body).toEqual({ detail: 'Invalid access token' });
    });

    it.each([
      ['HS512 with the right secret', { algorithm: 'HS512' as const }],
      ['a wrong secret', { secret: 'x'.repeat(16) + randomUUID() }],
      ['a wrong issuer', { iss: 'someone-else' }],
      ['a wrong audience', { aud: 'another-api' }],
    ])('rejects %s with 401', async (_name, overrides) => {
      const res = await me(`Bearer ${forgeToken(account.id, overrides)}`);
      expect(res.status).toBe(401);
      expect(res.body).toEqual({ detail: 'Invalid access token' });
    });

    it('rejects an expired token with 401', async () => {
      const res = await me(`Bearer ${forgeToken(account.id, {}, -10)}`);
      expect(res.status).toBe(401);
      expect(res.body).toEqual({ detail: 'Access token has expired' });
    });

    it('rejects a well-signed token for a user that does not exist', async () => {
      const res = await me(`Bearer ${forgeToken(randomUUID())}`);
      expect(res.status).toBe(401);
      expect(res.body).toEqual({ detail: 'Invalid access token' });
    });

    it('accepts a token forged with the real secret and claims (sanity check of forgeToken)', async () => {
      await me(`Bearer ${forgeToken(account.id)}`).expect(200);
    });
  });

  describe('POST /api/auth/refresh', () => {
    it('rotates: a refresh token gives a new pair and works only once', async () => {
      const { email } = await register();
      const first = await login(email);
      const second = await http()
        .post('/api/auth/refresh')
        .send({ refresh_token: first.refresh_token })
        .expect(200);
      expect(second.body).toEqual({
        access_token: expect.any(String),
        token_type: 'bearer',
        expires_in: t.config.security.accessTokenTtlSeconds,
        refresh_token: expect.stringMatching(/^[\w-]{43}$/),
      });
      expect(second.body.refresh_token).not.toBe(first.refresh_token);
      await http()
        .get('/api/users/me')
        .set('Authorization', `Bearer ${second.body.access_token}`)
        .expect(200);
      const third = await http()
        .post('/api/auth/refresh')
        .send({ refresh_token: second.body.refresh_token })
        .expect(200);
      expect(third.body.refresh_token).not.toBe(second.body.refresh_token);
    });

    it('reusing a spent token revokes the whole family, but not other logins', async () => {
      const { email } = await register();
      const otherLogin = await login(email);
      const first = await login(email);
      const second = await http()
        .post('/api/auth/refresh')
        .send({ refresh_token: first.refresh_token })
        .expect(200);

      const reuse = await http()
        .post('/api/auth/refresh')
        .send({ refresh_token: first.refresh_token });
      expect(reuse.status).toBe(401);
      expect(reuse.body).toEqual({
        detail: 'Refresh token was already used; this login has been revoked, sign in again',
      });

      // The legitimate successor is revoked too: the thief and the owner both lose the session.
      const successor = await http()
        .post('/api/auth/refresh')
        .send({ refresh_token: second.body.refresh_token });
      expect(successor.status).toBe(401);
      expect(successor.body).toEqual({ detail: 'Refresh token has been revoked' });

      // Another login of the same user is a different family and keeps working.
      await http()
        .post('/api/auth/refresh')
        .send({ refresh_token: otherLogin.refresh_token })
        .expect(200);
    });

    it('stores only SHA-256 hashes of refresh tokens', async () => {
      const { email, id } = await register();
      const { refresh_token } = await login(email);
      const rows = await t.app.get(DataSource).getRepository(RefreshToken).findBy({ userId: id });
      expect(rows).toHaveLength(1);
      expect(rows[0].tokenHash).toMatch(/^[0-9a-f]{64}$/);
      expect(rows[0].tokenHash).not.toContain(refresh_token);
    });

    it('rejects an expired refresh token with 401', async () => {
      const { email, id } = await register();
      const { refresh_token } = await login(email);
      await t.app
        .get(DataSource)
        .getRepository(RefreshToken)
        .update({ userId: id }, { expiresAt: new Date(Date.now() - 1000) });
      const res = await http().post('/api/auth/refresh').send({ refresh_token });
      expect(res.status).toBe(401);
      expect(res.body).toEqual({ detail: 'Refresh token has expired' });
    });

    it('rejects garbage, an access token and bad bodies', async () => {
      let res = await http().post('/api/auth/refresh').send({ refresh_token: 'garbage' });
      expect(res.status).toBe(401);
      expect(res.body).toEqual({ detail: 'Invalid refresh token' });

      const { email } = await register();
      const { access_token } = await login(email);
      res = await http().post('/api/auth/refresh').send({ refresh_token: access_token });
      expect(res.status).toBe(401);
      expect(res.body).toEqual({ detail: 'Invalid refresh token' });

      res = await http().post('/api/auth/refresh').send({});
      expect(res.status).toBe(400);
      expect(res.body).toEqual({
        detail: 'refresh_token is required',
        errors: [{ field: 'refresh_token', message: 'refresh_token is required' }],
      });

      res = await http().post('/api/auth/refresh').send({ refresh_token: 'x', extra: 1 });
      expect(res.status).toBe(400);
      expect(res.body.detail).toBe('extra is not an allowed field');
    });
  });

  describe('POST /api/auth/logout', () => {
    it('requires a bearer token', async () => {
      const res = await http().post('/api/auth/logout').send({});
      expect(res.status).toBe(401);
      expect(res.body).toEqual({ detail: 'Not authenticated' });
    });

    it('revokes the family of the given refresh token only', async () => {
      const { email } = await register();
      const a = await login(email);
      const b = await login(email);
      const rotated = await http()
        .post('/api/auth/refresh')
        .send({ refresh_token: a.refresh_token })
        .expect(200);
      // Logging out with the older (spent) token of family A still ends family A.
      await http()
        .post('/api/auth/logout')
        .set('Authorization', `Bearer ${b.access_token}`)
        .send({ refresh_token: a.refresh_token })
        .expect(204);
      const res = await http()
        .post('/api/auth/refresh')
        .send({ refresh_token: rotated.body.refresh_token });
      expect(res.status).toBe(401);
      expect(res.body).toEqual({ detail: 'Refresh token has been revoked' });
      await http().post('/api/auth/refresh').send({ refresh_token: b.refresh_token }).expect(200);
    });

    it('cannot revoke another user’s refresh token', async () => {
      const victim = await login((await register()).email);
      const attacker = await login((await register()).email);
      await http()
        .post('/api/auth/logout')
        .set('Authorization', `Bearer ${attacker.access_token}`)
        .send({ refresh_token: victim.refresh_token })
        .expect(204);
      await http()
        .post('/api/auth/refresh')
        .send({ refresh_token: victim.refresh_token })
        .expect(200);
    });

    it('{"all": true} revokes every refresh token of the user', async () => {
      const { email } = await register();
      const sessions = [await login(email), await login(email), await login(email)];
      await http()
        .post('/api/auth/logout')
        .set('Authorization', `Bearer ${sessions[0].access_token}`)
        .send({ all: true })
        .expect(204);
      for (const session of sessions) {
        const res = await http()
          .post('/api/auth/refresh')
          .send({ refresh_token: session.refresh_token });
        expect(res.status).toBe(401);
        expect(res.body).toEqual({ detail: 'Refresh token has been revoked' });
      }
    });

    it('accepts an empty body and rejects a non-boolean "all"', async () => {
      const { access_token } = await login((await register()).email);
      await http()
        .post('/api/auth/logout')
        .set('Authorization', `Bearer ${access_token}`)
        .expect(204);
      const res = await http()
        .post('/api/auth/logout')
        .set('Authorization', `Bearer ${access_token}`)
        .send({ all: 'false' });
      expect(res.status).toBe(400);
      expect(res.body).toEqual({
        detail: 'all must be true or false',
        errors: [{ field: 'all', message: 'all must be true or false' }],
      });
    });
  });

  describe('OpenAPI', () => {
    it('documents login for form and JSON bodies, with bearer auth on protected routes', async () => {
      const { body } = await http().get('/docs-json').expect(200);
      const loginOp = body.paths['/api/auth/login'].post;
      expect(Object.keys(loginOp.requestBody.content).sort()).toEqual([
        'application/json',
        'application/x-www-form-urlencoded',
      ]);
      expect(Object.keys(loginOp.responses).sort()).toEqual([
        '200',
        '400',
        '401',
        '403',
        '429',
        '431',
      ]);
      expect(body.paths['/api/users/me'].get.security).toEqual([{ bearer: [] }]);
      expect(body.paths['/api/auth/logout'].post.security).toEqual([{ bearer: [] }]);
      expect(body.components.securitySchemes.bearer).toMatchObject({
        type: 'http',
        scheme: 'bearer',
      });
      const register = body.components.schemas.RegisterDto;
      expect(register.properties.email.example).toBe('ada@example.com');
      expect(body.paths['/api/auth/register'].post.responses['409']).toBeDefined();
    });
  });
});

/** The positional parameter marker of the database under test. */
function placeholder(t: TestApp): string {
  return t.config.database.type === 'postgres' ? '$1' : '?';
}
