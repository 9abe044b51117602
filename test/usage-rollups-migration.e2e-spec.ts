import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { describeE2e, registerAndLogin, startAppOnPreviousSchema, TestApp } from '@app/testing';
import { MIGRATIONS } from '../src/database/migrations';
import { UsageRollupsCurrent1766500000000 } from '../src/database/migrations/1766500000000-usage-rollups-current';

const BEFORE = MIGRATIONS.slice(0, MIGRATIONS.indexOf(UsageRollupsCurrent1766500000000));
const DAY_MS = 86_400_000;
const MODEL = 'groq/llama-3.1-8b-instant';

/**
 * The roll-ups made current on write, on a database of the previous release: usage_daily held
 * only rows rolled up at retention and reports added the raw rows kept; after the migration the
 * raw rows are in usage_daily too and reports (which read only usage_daily) add up the same.
 */
describeE2e('usage roll-ups migration', () => {
  let t: TestApp;
  let user: { id: string; token: string };
  const userId = randomUUID();
  const day = (daysAgo: number) =>
    new Date(Date.now() - daysAgo * DAY_MS).toISOString().slice(0, 10);

  beforeAll(async () => {
    t = await startAppOnPreviousSchema(BEFORE, async (db, p) => {
      // Kept raw rows: two today (one unpriced, one failed), one 3 days ago.
      const rows: [string, string, number, number | null, string][] = [
        [day(0), MODEL, 100, 250, 'success'],
        [day(0), 'openai-compatible/unpriced', 40, null, 'server'],
        [day(3), MODEL, 10, 30, 'success'],
      ];
      for (const [when, model, tokens, cost, status] of rows) {
        await db.query(
          'INSERT INTO usage_records (user_id, provider, model, prompt_tokens, completion_tokens, ' +
            'cached_tokens, cost_micros, latency_ms, status, fallback_step, retry, created_at) ' +
            `VALUES (${p(1)}, ${p(2)}, ${p(3)}, ${p(4)}, 5, 0, ${p(5)}, 100, ${p(6)}, 0, 0, ${p(7)})`,
          [userId, model.split('/')[0], model, tokens, cost, status, `${when} 12:00:00`],
        );
      }
      // Already rolled up at retention (its raw rows are gone): 3 days ago, same model.
      await db.query(
        'INSERT INTO usage_daily (day, user_id, model, provider, requests, failed_requests, ' +
          'prompt_tokens, completion_tokens, cached_tokens, cost_micros, cost_unknown_requests) ' +
          `VALUES (${p(1)}, ${p(2)}, ${p(3)}, 'groq', 2, 0, 20, 10, 0, 1000, 0)`,
        [day(3), userId, MODEL],
      );
    });
    const other = await registerAndLogin(t.url);
    // The seeded rows belong to an account made before: reassign them to a user with a token.
    const db = t.app.get(DataSource);
    const p = db.options.type === 'postgres' ? (n: number) => `$${n}` : () => '?';
    for (const table of ['usage_records', 'usage_daily']) {
      await db.query(`UPDATE ${table} SET user_id = ${p(1)} WHERE user_id = ${p(2)}`, [
        other.id,
        userId,
      ]);
    }
    user = other;
  });
  afterAll(() => t?.close());

  const report = async (groupBy: string) =>
    (
      await request(t.url)
        .get(`/api/usage?from=${day(10)}&to=${day(0)}&group_by=${groupBy}`)
        .set('Authorization', `Bearer ${user.token}`)
        .expect(200)
    ).body;

  it('adds the kept raw rows to the roll-ups: reports count raw and rolled-up rows once each', async () => {
    const byDay = await report('day');
    expect(byDay.totals).toEqual(
      expect.objectContaining({
        requests: 5,
        failed_requests: 1,
        prompt_tokens: 170,
        completion_tokens: 25,
        cost_usd: 0.00128,
        cost_unknown_requests: 1,
      }),
    );
    expect(byDay.items).toEqual([
      expect.objectContaining({ day: day(3), requests: 3, cost_usd: 0.00103 }),
      expect.objectContaining({ day: day(0), requests: 2, cost_usd: 0.00025 }),
    ]);
  });

  it('reverts cleanly: usage_daily holds only the rolled-up rows again, then migrates again', async () => {
    const before = await report('model');
    const db = t.app.get(DataSource);
    const runner = db.createQueryRunner();
    try {
      await new UsageRollupsCurrent1766500000000().down(runner);
      const rows = await runner.query('SELECT day, requests, cost_micros FROM usage_daily');
      expect(rows.map((r: Record<string, unknown>) => [r.day, Number(r.requests)])).toEqual([
        [day(3), 2],
      ]);
      await new UsageRollupsCurrent1766500000000().up(runner);
    } finally {
      await runner.release();
    }
    expect(await report('model')).toEqual(before);
  });
});
