import request from 'supertest';
import {
  describeWithServices,
  registerAndLogin,
  serviceUrl,
  startTestApp,
  testDatabaseKind,
  type TestApp,
} from '@app/testing';

/** Two instances on one database and one Redis, as behind a load balancer. */
describeWithServices(
  testDatabaseKind() === 'postgres' ? ['redis', 'postgres'] : ['redis'],
  `personal API keys on two instances with Redis [${testDatabaseKind()}]`,
  () => {
    let a: TestApp;
    let b: TestApp;
    beforeAll(async () => {
      a = await startTestApp({ REDIS_URL: serviceUrl('redis') });
      b = await startTestApp({
        REDIS_URL: serviceUrl('redis'),
        DATABASE_URL: a.database.url,
        SECRET_KEY: a.config.security.secretKey,
      });
    });
    afterAll(async () => {
      await b?.close();
      await a?.close();
    });

    const as = (token: string) => ({ Authorization: `Bearer ${token}` });

    it('create → use → revoke on one instance → 401 on the other within a second', async () => {
      const user = await registerAndLogin(a.url);
      const created = await request(a.url)
        .post('/api/keys')
        .set(as(user.token))
        .send({ name: 'lb', scopes: ['models'] })
        .expect(201);
      await request(b.url).get('/v1/models').set(as(created.body.key)).expect(200);
      await request(a.url).delete(`/api/keys/${created.body.id}`).set(as(user.token)).expect(204);
      const revokedAt = Date.now();
      const res = await request(b.url).get('/v1/models').set(as(created.body.key));
      expect(res.status).toBe(401);
      expect(res.body.error.code).toBe('invalid_api_key');
      expect(Date.now() - revokedAt).toBeLessThan(1000);
    });

    it("shares a key's own rate limit between the instances", async () => {
      const user = await registerAndLogin(a.url);
      const { key } = (
        await request(a.url)
          .post('/api/keys')
          .set(as(user.token))
          .send({ name: 'limited', scopes: ['models'], rate_limit_per_minute: 3 })
          .expect(201)
      ).body as { key: string };
      for (const app of [a, b, a]) {
        await request(app.url).get('/api/models').set(as(key)).expect(200);
      }
      const res = await request(b.url).get('/api/models').set(as(key));
      expect(res.status).toBe(429);
      expect(Number(res.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    });
  },
);
