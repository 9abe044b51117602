import request from 'supertest';
import {
  connectChatSocket,
  describeWithServices,
  registerAndLogin,
  serviceUrl,
  startTestApp,
  testDatabaseKind,
  type LoggedInUser,
  type TestApp,
} from '@app/testing';

const as = (token: string) => ({ Authorization: `Bearer ${token}` });

/** Two instances on one database and one Redis, as behind a load balancer. */
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
