import { randomInt, randomUUID } from 'node:crypto';
import request from 'supertest';
import {
  describeWithServices,
  serviceUrl,
  startTestApp,
  TestApp,
  testDatabaseKind,
} from '@app/testing';

const PASSWORD = 'correct horse battery';
const newEmail = () => `redis-rl-${randomUUID().slice(0, 8)}@example.com`;
/** A client address of its own per run, so counters left in Redis by earlier runs do not matter. */
const randomClientIp = () => `10.${randomInt(256)}.${randomInt(256)}.${randomInt(1, 255)}`;

describeWithServices(
  testDatabaseKind() === 'postgres' ? ['redis', 'postgres'] : ['redis'],
  `throttling shared through Redis [${testDatabaseKind()}]`,
  () => {
    let a: TestApp;
    let b: TestApp;
    beforeAll(async () => {
      const env = {
        REDIS_URL: serviceUrl('redis'),
        TRUST_PROXY: '1',
        RATE_LIMIT__AUTH_PER_MINUTE: '3',
        RATE_LIMIT__LOGIN_FAILURES_PER_ACCOUNT: '2',
      };
      a = await startTestApp(env);
      b = await startTestApp(env);
    });
    afterAll(async () => {
      await a?.close();
      await b?.close();
    });

    it('two instances share the per-IP auth budget', async () => {
      const ip = randomClientIp();
      const reset = (app: TestApp) =>
        request(app.url)
          .post('/api/auth/password-reset/request')
          .set('X-Forwarded-For', ip)
          .send({ email: newEmail() });
      expect((await reset(a)).status).toBe(202);
      expect((await reset(b)).status).toBe(202);
      expect((await reset(a)).status).toBe(202);
      const res = await reset(b);
      expect(res.status).toBe(429);
      expect(res.body).toEqual({
        detail: expect.stringMatching(/^Too many requests; retry in \d+ seconds?$/),
      });
      const retryAfter = Number(res.headers['retry-after']);
      expect(retryAfter).toBeGreaterThanOrEqual(1);
      expect(retryAfter).toBeLessThanOrEqual(60);
    });

    it('two instances share the per-account failure lock', async () => {
      const email = newEmail();
      const login = (app: TestApp, password: string) =>
        request(app.url)
          .post('/api/auth/login')
          .set('X-Forwarded-For', randomClientIp())
          .send({ email, password });
      await request(a.url)
        .post('/api/auth/register')
        .set('X-Forwarded-For', randomClientIp())
        .send({ email, password: PASSWORD })
        .expect(201);
      expect((await login(a, 'wrong-password')).status).toBe(401);
      expect((await login(b, 'wrong-password')).status).toBe(401);
      const res = await login(a, PASSWORD);
      expect(res.status).toBe(429);
      expect(res.body).toEqual({
        detail: 'Too many failed logins for this account; try again later',
      });
      expect(Number(res.headers['retry-after'])).toBeGreaterThan(14 * 60);
      expect((await login(b, PASSWORD)).status).toBe(429);
    });
  },
);
