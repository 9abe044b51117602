import request from 'supertest';
import { DataSource } from 'typeorm';
import { describeE2e, LoggedInUser, registerAndLogin, startTestApp, TestApp } from '@app/testing';
import { UsageLedger, type UsageEntry } from '../src/usage/usage-ledger';
import { UsageRetention } from '../src/usage/usage-retention';
import { UsageService } from '../src/usage/usage.service';

const DAY_MS = 86_400_000;
const RETENTION_DAYS = 30;
const MODELS = ['groq/llama-3.1-8b-instant', 'openai/gpt-4o', 'openai-compatible/unpriced'];

/**
 * Daily roll-ups kept current on every ledger write, and retention: old raw rows are deleted and
 * reports add up the same.
 */
describeE2e('usage roll-ups and retention', () => {
  let t: TestApp;
  let db: DataSource;
  let users: LoggedInUser[];
  const now = new Date();
  const day = (daysAgo: number) =>
    new Date(now.getTime() - daysAgo * DAY_MS).toISOString().slice(0, 10);
  const from = day(120);
  const to = day(0);

  /** Rows spread over 120 days for each user: several models, unknown costs and failures. */
  async function fill(seed: number): Promise<number> {
    const ledger = t.app.get(UsageLedger);
    let count = 0;
    for (const [u, user] of users.entries()) {
      for (let i = 0; i < 60; i++) {
        const model = MODELS[(i + u + seed) % MODELS.length];
        const entry: UsageEntry = {
          userId: user.id,
          provider: model.split('/')[0],
          model,
          promptTokens: 10 + i,
          completionTokens: 5 + ((i * 7 + seed) % 13),
          cachedTokens: i % 4,
          costMicros: model.endsWith('unpriced') ? null : 100 * i + seed,
          latencyMs: 100,
          status: i % 9 === 0 ? 'server' : 'success',
          fallbackStep: 0,
          retry: 0,
          // Two rows a day apart, and some at the very ends of a UTC day.
          createdAt: new Date(now.getTime() - i * 2 * DAY_MS - (i % 3) * 3_600_000),
        };
        ledger.record(entry);
        count++;
      }
    }
    await ledger.flush();
    return count;
  }

  const reports = async () =>
    Promise.all(
      users.flatMap((user) =>
        ['day', 'model'].map(async (groupBy) => {
          const res = await request(t.url)
            .get(`/api/usage?from=${from}&to=${to}&group_by=${groupBy}`)
            .set('Authorization', `Bearer ${user.token}`)
            .expect(200);
          return res.body;
        }),
      ),
    );
  const byUser = async () =>
    (await t.app.get(UsageService).totalsByUser(from, to)).sort((a, b) =>
      a.userId.localeCompare(b.userId),
    );
  const oldRawRows = async () => {
    const cutoff = t.app.get(UsageRetention).cutoff(now);
    const rows = await db.query('SELECT created_at FROM usage_records');
    return rows.filter(
      (row: { created_at: string | Date }) =>
        new Date(row.created_at instanceof Date ? row.created_at : `${row.created_at}Z`) < cutoff,
    ).length;
  };

  beforeAll(async () => {
    t = await startTestApp({
      USAGE__RETENTION_DAYS: String(RETENTION_DAYS),
      RATE_LIMIT__AUTH_PER_MINUTE: '10000',
    });
    db = t.app.get(DataSource);
    users = [await registerAndLogin(t.url), await registerAndLogin(t.url)];
  });
  afterAll(async () => {
    await t.close();
  });

  /** Sums per user straight from the raw rows (what the roll-ups must equal). */
  const rawSumsByUser = async () => {
    const rows: Record<string, string | number>[] = await db.query(
      `SELECT user_id, COUNT(*) AS requests, SUM(prompt_tokens) AS prompt,
         SUM(completion_tokens) AS completion, SUM(cost_micros) AS cost,
         SUM(CASE WHEN cost_micros IS NULL THEN 1 ELSE 0 END) AS unknown
       FROM usage_records GROUP BY user_id`,
    );
    return new Map(
      rows.map((row) => [
        String(row.user_id),
        {
          requests: Number(row.requests),
          prompt_tokens: Number(row.prompt),
          completion_tokens: Number(row.completion),
          cost_usd: Number(row.cost) / 1e6,
          cost_unknown_requests: Number(row.unknown),
        },
      ]),
    );
  };

  it('reports equal the raw-row sums right after a batch write, before any retention run', async () => {
    await fill(1);
    const raw = await rawSumsByUser();
    const reported = await reports();
    for (const [u, user] of users.entries()) {
      expect(raw.get(user.id)?.requests).toBe(60);
      for (const report of reported.slice(u * 2, u * 2 + 2)) {
        expect(report.totals).toEqual(expect.objectContaining(raw.get(user.id)));
      }
    }
    expect(reported[0].totals.cost_unknown_requests).toBe(20);
    // Across every user (the spans path of the admin report and user list) too.
    for (const totals of await byUser()) {
      const expected = raw.get(totals.userId)!;
      expect(totals).toEqual(
        expect.objectContaining({
          requests: expected.requests,
          promptTokens: expected.prompt_tokens,
          completionTokens: expected.completion_tokens,
          costMicros: Math.round(expected.cost_usd * 1e6),
          costUnknownRequests: expected.cost_unknown_requests,
        }),
      );
    }
  });

  it('keeps totals identical per day, per model and per user before and after retention', async () => {
    const old = await oldRawRows();
    expect(old).toBeGreaterThan(40);
    const before = await reports();
    const totalsBefore = await byUser();
    expect(before[0].totals.requests).toBe(60);
    expect(before[0].totals.cost_unknown_requests).toBe(20);

    const deleted = await t.app.get(UsageRetention).deleteExpired(now);
    expect(deleted).toBe(old);
    expect(await oldRawRows()).toBe(0);
    const [{ n }] = await db.query('SELECT COUNT(*) AS n FROM usage_daily');
    expect(Number(n)).toBeGreaterThan(0);

    expect(await reports()).toEqual(before);
    expect(await byUser()).toEqual(totalsBefore);
    // A second run finds nothing left to delete.
    expect(await t.app.get(UsageRetention).deleteExpired(now)).toBe(0);
    expect(await reports()).toEqual(before);
  });

  it('adds later writes of the same day, user and model to the existing totals', async () => {
    await fill(2);
    const before = await reports();
    const retention = t.app.get(UsageRetention);
    // Two instances at once: every row is deleted once, and counted once in the reports.
    const runs =
      db.options.type === 'postgres'
        ? await Promise.all([retention.deleteExpired(now), retention.deleteExpired(now)])
        : [await retention.deleteExpired(now)];
    expect(runs.reduce((a, b) => a + b, 0)).toBeGreaterThan(40);
    expect(await oldRawRows()).toBe(0);
    expect(await reports()).toEqual(before);
    expect(before[0].totals.requests).toBe(120);
  });

  it("deleting a user's usage takes it out of every report across users", async () => {
    const usage = t.app.get(UsageService);
    const [kept, deleted] = users;
    await usage.deleteForUser(deleted.id);
    const own = await reports(); // [day, model] of each user; the deleted one's are empty now
    expect(own[2].totals.requests).toBe(0);
    for (const [i, groupBy] of (['day', 'model'] as const).entries()) {
      const across = await usage.reportAll({ from, to, group_by: groupBy });
      expect(across.totals).toEqual(own[i].totals);
      expect(across.items).toEqual(own[i].items);
    }
    const byUser = await usage.reportAll({ from, to, group_by: 'user' });
    expect(byUser.items.map((item) => item.user)).toEqual([kept.id]);
  });
});
