import { createHash, randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import * as bcrypt from 'bcrypt';
import request from 'supertest';
import { describeE2e, startTestApp, TestApp } from '@app/testing';

/**
 * Login timing at a realistic bcrypt cost: an unknown e-mail must cost as much as a wrong
 * password (the dummy-hash comparison), so timing does not reveal which accounts exist.
 * AUTH_TIMING_ROUNDS=12 AUTH_TIMING_SAMPLES=20 reproduces the production-cost measurement.
 */
const ROUNDS = Number(process.env.AUTH_TIMING_ROUNDS ?? 10);
const SAMPLES = Number(process.env.AUTH_TIMING_SAMPLES ?? 8);
const PASSWORD = 'correct horse battery';

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

async function timed(run: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await run();
  return performance.now() - start;
}

describeE2e(`login timing at bcrypt cost ${ROUNDS}`, () => {
  let t: TestApp;
  const email = `timing-${randomUUID().slice(0, 8)}@example.com`;

  beforeAll(async () => {
    t = await startTestApp({
      SECURITY__BCRYPT_ROUNDS: String(ROUNDS),
      RATE_LIMIT__AUTH_PER_MINUTE: '10000',
      RATE_LIMIT__LOGIN_FAILURES_PER_ACCOUNT: '10000',
    });
    await request(t.url).post('/api/auth/register').send({ email, password: PASSWORD }).expect(201);
  });
  afterAll(() => t.close());

  it('spends a full bcrypt comparison on unknown e-mails, like on wrong passwords', async () => {
    const login = (address: string, password: string, status: number) => () =>
      request(t.url).post('/api/auth/login').send({ email: address, password }).expect(status);

    // Warm up connections, JIT and the bcrypt thread pool.
    await login(email, PASSWORD, 200)();
    await login(`nobody-${randomUUID()}@example.com`, 'wrong password!', 401)();

    const hash = await bcrypt.hash('a password to compare against', ROUNDS);
    const prehashed = createHash('sha256').update(PASSWORD).digest('base64');
    const raw: number[] = [];
    const success: number[] = [];
    const wrongPassword: number[] = [];
    const unknownEmail: number[] = [];
    for (let i = 0; i < SAMPLES; i++) {
      raw.push(await timed(() => bcrypt.compare(prehashed, hash)));
      success.push(await timed(login(email, PASSWORD, 200)));
      wrongPassword.push(await timed(login(email, `wrong password ${i}`, 401)));
      unknownEmail.push(
        await timed(login(`nobody-${randomUUID()}@example.com`, `wrong password ${i}`, 401)),
      );
    }

    const report = {
      bcryptRounds: ROUNDS,
      samples: SAMPLES,
      rawBcryptCompareP50Ms: +median(raw).toFixed(1),
      successfulLoginP50Ms: +median(success).toFixed(1),
      wrongPasswordP50Ms: +median(wrongPassword).toFixed(1),
      unknownEmailP50Ms: +median(unknownEmail).toFixed(1),
    };
    console.log(`login timing: ${JSON.stringify(report)}`);

    // Every failing path includes one real comparison...
    expect(report.unknownEmailP50Ms).toBeGreaterThan(report.rawBcryptCompareP50Ms * 0.5);
    expect(report.wrongPasswordP50Ms).toBeGreaterThan(report.rawBcryptCompareP50Ms * 0.5);
    // ...and the two failures are indistinguishable within the noise of a shared machine.
    const gap = Math.abs(report.unknownEmailP50Ms - report.wrongPasswordP50Ms);
    expect(gap).toBeLessThan(Math.max(report.wrongPasswordP50Ms, report.unknownEmailP50Ms) * 0.5);
  }, 300_000);
});
