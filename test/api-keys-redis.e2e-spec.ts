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

    it("shares a key's daily token quota between the instances; the user's other key goes on", async () => {
      const user = await registerAndLogin(a.url);
      const createKey = async (name: string, tokensPerDay: number) =>
        (
          await request(a.url)
            .post('/api/keys')
            .set(as(user.token))
            .send({ name, scopes: ['chat'], tokens_per_day: tokensPerDay })
            .expect(201)
        ).body.key as string;
      const [small, big] = [await createKey('small', 10), await createKey('big', 1_000_000)];
      const chat = (app: TestApp, key: string) =>
        request(app.url).post('/api/chat').set(as(key)).send({ message: 'on one, then the other' });

      // Used up on instance a, refused on instance b: the count lives in Redis.
      expect((await chat(a, small).expect(200)).body.usage.tokens).toBeGreaterThanOrEqual(10);
      const refused = await chat(b, small).expect(429);
      expect(refused.body.detail).toBe(
        "This API key's daily token quota of 10 tokens used up; it resets at 00:00 UTC",
      );
      expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      await chat(b, big).expect(200);
      await chat(a, user.token).expect(200);
    });
  },
);
