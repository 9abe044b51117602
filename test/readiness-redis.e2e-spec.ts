import request from 'supertest';
import {
  closedPort,
  describeE2e,
  describeWithServices,
  serviceUrl,
  startTestApp,
  TestApp,
} from '@app/testing';

describeE2e('readiness (/health/ready)', () => {
  describeWithServices(['redis'], 'covers Redis when REDIS_URL is set', () => {
    describe('with Redis up', () => {
      let t: TestApp;
      beforeAll(async () => {
        t = await startTestApp({ REDIS_URL: serviceUrl('redis') });
      });
      afterAll(() => t.close());

      it('reports database and redis up', async () => {
        // The health connection opens at start-up; give it a moment on a slow machine.
        let res = await request(t.url).get('/health/ready');
        for (let i = 0; i < 20 && res.status !== 200; i++) {
          await new Promise((resolve) => setTimeout(resolve, 100));
          res = await request(t.url).get('/health/ready');
        }
        expect(res.status).toBe(200);
        expect(res.body).toMatchObject({
          status: 'ok',
          info: { database: { status: 'up' }, redis: { status: 'up' } },
        });
        expect(res.headers['cache-control']).toContain('no-store');
      });
    });

    describe('with Redis unreachable', () => {
      const password = 'S3cret-redis-Pa55word';
      let t: TestApp;
      let url: string;
      beforeAll(async () => {
        url = `redis://default:${password}@127.0.0.1:${await closedPort()}/0`;
        t = await startTestApp({ REDIS_URL: url });
      });
      afterAll(() => t.close());

      it('answers 503 naming redis, without the URL or its password', async () => {
        const res = await request(t.url).get('/health/ready');
        expect(res.status).toBe(503);
        expect(res.body).toEqual({
          detail: 'Not ready: redis is down',
          status: 'error',
          info: { database: { status: 'up' } },
          error: { redis: { status: 'down', message: expect.any(String) } },
          details: {
            database: { status: 'up' },
            redis: { status: 'down', message: expect.any(String) },
          },
        });
        expect(res.text).not.toContain(password);
        expect(res.text).not.toContain(url);
        expect(res.text).not.toContain('redis://');
      });

      it('keeps liveness at 200: a down dependency is not a dead process', async () => {
        await request(t.url).get('/health/live').expect(200, { status: 'ok' });
      });

      it('shuts down without an unhandled rejection from commands queued for the absent Redis', async () => {
        const app = await startTestApp({ REDIS_URL: url });
        const unhandled: unknown[] = [];
        const record = (reason: unknown) => unhandled.push(reason);
        process.on('unhandledRejection', record);
        try {
          await app.close();
          await new Promise((resolve) => setTimeout(resolve, 200));
        } finally {
          process.off('unhandledRejection', record);
        }
        expect(unhandled).toEqual([]);
      });
    });
  });

  describe('without REDIS_URL', () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await startTestApp();
    });
    afterAll(() => t.close());

    it('does not check Redis', async () => {
      const res = await request(t.url).get('/health/ready').expect(200);
      expect(res.body.details).toEqual({ database: { status: 'up' } });
    });
  });
});
