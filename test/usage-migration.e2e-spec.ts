import request from 'supertest';
import { DataSource } from 'typeorm';
import {
  baseTestEnv,
  describeE2e,
  registerAndLogin,
  startAppOnPreviousSchema,
  type TestApp,
} from '@app/testing';
import { UsageLedger1766000000000 } from '../src/database/migrations/1766000000000-usage-ledger';
import { MIGRATIONS } from '../src/database/migrations';
import { UsageLedger } from '../src/usage/usage-ledger';

/** The usage-ledger migration on a database that every earlier migration built. */
describeE2e('usage ledger migration', () => {
  let t: TestApp;

  beforeAll(async () => {
    // Every migration before the ledger: the schema it was written against.
    const previous = MIGRATIONS.slice(0, MIGRATIONS.indexOf(UsageLedger1766000000000));
    t = await startAppOnPreviousSchema(
      previous,
      async (db) => {
        expect(await db.createQueryRunner().hasTable('usage_records')).toBe(false);
      },
      { ...baseTestEnv(), RATE_LIMIT__AUTH_PER_MINUTE: '1000' },
    );
  });
  afterAll(() => t?.close());

  it('adds the ledger at start-up: a chat is recorded and reported', async () => {
    const user = await registerAndLogin(t.url);
    await request(t.url)
      .post('/api/chat')
      .set('Authorization', `Bearer ${user.token}`)
      .send({ message: 'after the upgrade' })
      .expect(200);
    await t.app.get(UsageLedger).flush();
    const report = await request(t.url)
      .get('/api/usage?group_by=model')
      .set('Authorization', `Bearer ${user.token}`)
      .expect(200);
    expect(report.body.items).toEqual([
      expect.objectContaining({ model: 'local/echo', requests: 1, cost_usd: 0 }),
    ]);
  });

  it('deletes a budget override with its user (foreign key)', async () => {
    const db = t.app.get(DataSource);
    const p = db.options.type === 'postgres' ? (n: number) => `$${n}` : () => '?';
    const user = await registerAndLogin(t.url);
    await db.query(
      `INSERT INTO budget_overrides (user_id, usd_micros_per_day) VALUES (${p(1)}, ${p(2)})`,
      [user.id, 5_000_000],
    );
    await db.query(`DELETE FROM users WHERE id = ${p(1)}`, [user.id]);
    const left = await db.query(`SELECT * FROM budget_overrides WHERE user_id = ${p(1)}`, [
      user.id,
    ]);
    expect(left).toEqual([]);
  });

  it('reverts cleanly: the three tables go, the rest stays', async () => {
    const db = t.app.get(DataSource);
    const runner = db.createQueryRunner();
    try {
      await new UsageLedger1766000000000().down(runner);
      for (const table of ['usage_records', 'usage_daily', 'budget_overrides']) {
        expect(await runner.hasTable(table)).toBe(false);
      }
      expect(await runner.hasTable('users')).toBe(true);
      await new UsageLedger1766000000000().up(runner);
      expect(await runner.hasTable('usage_records')).toBe(true);
    } finally {
      await runner.release();
    }
  });
});
