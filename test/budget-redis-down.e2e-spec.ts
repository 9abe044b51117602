import request from 'supertest';
import { closedPort, describeE2e, registerAndLogin, startTestApp, TestApp } from '@app/testing';

/** BUDGET__REDIS_DOWN: what a budgeted chat does when the Redis of REDIS_URL is unreachable. */
describeE2e('spend budgets with Redis down', () => {
  describe.each([
    ['closed', 503],
    ['open', 200],
  ])('BUDGET__REDIS_DOWN=%s', (mode, status) => {
    let t: TestApp;
    beforeAll(async () => {
      t = await startTestApp({
        REDIS_URL: `redis://127.0.0.1:${await closedPort()}/0`,
        BUDGET__USD_PER_DAY: '1',
        BUDGET__REDIS_DOWN: mode,
      });
    });
    afterAll(() => t.close());

    it(`answers ${status} and counts the outage in /metrics`, async () => {
      const user = await registerAndLogin(t.url);
      const res = await request(t.url)
        .post('/api/chat')
        .set('Authorization', `Bearer ${user.token}`)
        .send({ message: 'is the budget checked?' });
      expect(res.status).toBe(status);
      if (status === 503) {
        expect(res.body).toEqual({
          detail: 'Spending limits cannot be checked right now; please try again shortly',
        });
        expect(res.headers['retry-after']).toBe('5');
      }
      const metrics = (await request(t.url).get('/metrics').expect(200)).text;
      expect(metrics).toContain(`chatbot_budget_store_unavailable_total{mode="${mode}"} 1`);
    });
  });
});
