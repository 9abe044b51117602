import request from 'supertest';
import { DataSource } from 'typeorm';
import { describeE2e, ProviderSimulator, registerAndLogin, startTestApp } from '@app/testing';
import type { LoggedInUser, TestApp } from '@app/testing';
import { countMessagesTokens } from '../src/providers/token-counter';
import { BudgetOverridesService } from '../src/usage/budget/budget-overrides';
import { UsageLedger } from '../src/usage/usage-ledger';
import { writePricesFile } from './factories/prices.factory';

const GROQ = 'groq/llama-3.1-8b-instant';
const OPENAI = 'openai/gpt-4o-mini';
/** Whole micro-dollars per token, so every cost is an exact integer of micro-dollars. */
const PRICES = { [GROQ]: { input: 2, output: 3 }, [OPENAI]: { input: 5, output: 7 } };
const MAX_TOKENS = 100;
const MESSAGE = 'what will this cost me';

const as = (token: string) => ({ Authorization: `Bearer ${token}` });
const usd = (micros: number) => micros / 1_000_000;
/** What the app reserves for MESSAGE in a new session of a GROQ chat. */
const RESERVATION =
  countMessagesTokens([{ role: 'user', content: MESSAGE }]) * PRICES[GROQ].input +
  MAX_TOKENS * PRICES[GROQ].output;

interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
}
const costOf = (model: keyof typeof PRICES, usage: Usage) =>
  usage.prompt_tokens * PRICES[model].input + usage.completion_tokens * PRICES[model].output;

/**
 * The admin side of cost control: per-user budget overrides through PATCH /api/admin/users/{id}
 * (read by the budget check), each user's cost this month, and the report across users.
 */
describeE2e('admin budgets and usage report', () => {
  const sim = new ProviderSimulator();
  let t: TestApp;
  let admin: LoggedInUser;

  beforeAll(async () => {
    const url = await sim.start();
    const adminEmail = `boss-${Date.now()}@example.com`;
    t = await startTestApp({
      ADMIN_EMAILS: adminEmail,
      AI_SERVICES__GROQ_API_KEY: 'sim-groq-key',
      AI_SERVICES__GROQ_BASE_URL: url,
      AI_SERVICES__OPENAI_API_KEY: 'sim-openai-key',
      AI_SERVICES__OPENAI_BASE_URL: url,
      AI_SERVICES__DEFAULT_MODEL: GROQ,
      MODEL_PRICES_FILE: writePricesFile(PRICES),
      // The default daily budget is one micro-dollar short of a single request.
      BUDGET__USD_PER_DAY: String(usd(RESERVATION - 1)),
      RATE_LIMIT__AUTH_PER_MINUTE: '10000',
      SHUTDOWN_GRACE_MS: '0',
    });
    admin = await registerAndLogin(t.url, adminEmail);
  });
  afterEach(() => sim.reset());
  afterAll(async () => {
    await t?.close();
    await sim.stop();
  });

  const http = () => request(t.url);
  const chat = (user: LoggedInUser, model: keyof typeof PRICES = GROQ) =>
    http()
      .post('/api/chat')
      .set(as(user.token))
      .send({ message: MESSAGE, model, max_tokens: MAX_TOKENS });
  const patch = (userId: string, body: object, token = admin.token) =>
    http().patch(`/api/admin/users/${userId}`).set(as(token)).send(body);
  async function listed(user: LoggedInUser) {
    const res = await http()
      .get('/api/admin/users')
      .set(as(admin.token))
      .query({ q: user.email })
      .expect(200);
    expect(res.body.items).toHaveLength(1);
    return res.body.items[0] as {
      budget: Record<string, unknown>;
      usage: Record<string, unknown>;
    };
  }
  const report = (query: Record<string, string>) =>
    http().get('/api/admin/usage').set(as(admin.token)).query(query);

  it('an override lets a user past the default budget; null brings the default back', async () => {
    const user = await registerAndLogin(t.url);
    await chat(user).expect(429);
    expect(sim.requests).toHaveLength(0);

    const res = await patch(user.id, { usd_per_day: 1 }).expect(200);
    expect(res.body.budget).toEqual({
      usd_per_day: 1,
      usd_per_month: 0,
      usd_per_day_overridden: true,
      usd_per_month_overridden: false,
    });
    const reply = await chat(user).expect(200);
    expect(sim.requests).toHaveLength(1);
    const cost = costOf(GROQ, reply.body.usage as Usage);
    await t.app.get(UsageLedger).flush();
    expect((await listed(user)).usage).toMatchObject({
      cost_usd_this_month: usd(cost),
      requests_this_month: 1,
      tokens_this_month: reply.body.usage.prompt_tokens + reply.body.usage.completion_tokens,
    });

    const cleared = await patch(user.id, { usd_per_day: null }).expect(200);
    expect(cleared.body.budget).toMatchObject({
      usd_per_day: usd(RESERVATION - 1),
      usd_per_day_overridden: false,
    });
    expect(await t.app.get(BudgetOverridesService).find(user.id)).toBeNull();
    await chat(user).expect(429);
    expect(sim.requests).toHaveLength(1);

    const audit = await http()
      .get('/api/admin/audit')
      .set(as(admin.token))
      .query({ action: 'user.quota_changed' })
      .expect(200);
    const entries = (audit.body.items as { target: string; details: object }[]).filter(
      (entry) => entry.target === `user:${user.id}`,
    );
    expect(entries.map((entry) => entry.details)).toEqual([
      { email: user.email, usd_per_day: { from: 1, to: null } },
      { email: user.email, usd_per_day: { from: null, to: 1 } },
    ]);
  });

  it('an override stops a user under it: a monthly limit below one request', async () => {
    const user = await registerAndLogin(t.url);
    await patch(user.id, { usd_per_day: 0, usd_per_month: 1 }).expect(200);
    await chat(user).expect(200);
    const res = await patch(user.id, { usd_per_month: usd(RESERVATION - 1) }).expect(200);
    expect(res.body.budget).toEqual({
      usd_per_day: 0,
      usd_per_month: usd(RESERVATION - 1),
      usd_per_day_overridden: true,
      usd_per_month_overridden: true,
    });
    const refused = await chat(user).expect(429);
    expect(refused.body.detail).toMatch(/^Monthly spending limit of \$0\.\d+ (reached|would be)/);
    expect(sim.requests).toHaveLength(1);
  });

  it('a normal user and an API key cannot set a budget (403); nothing is stored', async () => {
    const user = await registerAndLogin(t.url);
    const self = await patch(user.id, { usd_per_day: 100 }, user.token).expect(403);
    expect(self.body).toEqual({ detail: 'Admin role required' });
    const key = await http()
      .post('/api/keys')
      .set(as(admin.token))
      .send({ name: 'k', scopes: ['models', 'chat', 'usage:read'] })
      .expect(201);
    const keyed = await patch(user.id, { usd_per_month: 100 }, key.body.key as string).expect(403);
    expect(keyed.body.detail).toMatch(/API keys cannot be used here/);
    expect(await t.app.get(BudgetOverridesService).find(user.id)).toBeNull();
    await report({}).set(as(user.token)).expect(403);
    await http()
      .get('/api/admin/usage')
      .set(as(key.body.key as string))
      .expect(403);
  });

  it('reports usage across users per user, model, provider and day, to the micro-dollar', async () => {
    const ada = await registerAndLogin(t.url);
    const bob = await registerAndLogin(t.url);
    for (const user of [ada, bob]) await patch(user.id, { usd_per_day: 0 }).expect(200);
    const replies: [LoggedInUser, keyof typeof PRICES, Usage][] = [];
    for (const [user, model] of [
      [ada, GROQ],
      [ada, OPENAI],
      [ada, GROQ],
      [bob, OPENAI],
    ] as const) {
      const reply = await chat(user, model).expect(200);
      replies.push([user, model, reply.body.usage as Usage]);
    }
    await t.app.get(UsageLedger).flush();
    const sum = (pick: (user: LoggedInUser, model: string) => boolean) =>
      replies
        .filter(([user, model]) => pick(user, model))
        .reduce(
          (total, [, model, usage]) => ({
            requests: total.requests + 1,
            prompt_tokens: total.prompt_tokens + usage.prompt_tokens,
            completion_tokens: total.completion_tokens + usage.completion_tokens,
            cost_usd: usd(Math.round(total.cost_usd * 1e6) + costOf(model, usage)),
          }),
          { requests: 0, prompt_tokens: 0, completion_tokens: 0, cost_usd: 0 },
        );

    const byUser = await report({ group_by: 'user' }).expect(200);
    expect(byUser.body.group_by).toBe('user');
    for (const user of [ada, bob]) {
      expect(byUser.body.items).toContainEqual({
        user: user.id,
        email: user.email,
        failed_requests: 0,
        cached_tokens: 0,
        cost_unknown_requests: 0,
        ...sum((who) => who === user),
        tokens: expect.any(Number),
      });
    }

    // Only ada and bob used OpenAI: that model's line is theirs, exactly.
    const byModel = await report({ group_by: 'model' }).expect(200);
    const openai = (byModel.body.items as { model: string }[]).find((i) => i.model === OPENAI);
    expect(openai).toMatchObject(sum((_, model) => model === OPENAI));
    // Every line, and the totals, match the ledger itself.
    const db = t.app.get(DataSource);
    const ledger = await db.query<Record<string, string | number>[]>(
      'SELECT model, provider, COUNT(*) AS requests, SUM(prompt_tokens) AS prompt, ' +
        'SUM(completion_tokens) AS completion, SUM(cost_micros) AS cost FROM usage_records ' +
        'GROUP BY model, provider ORDER BY model',
    );
    expect(
      (byModel.body.items as Record<string, unknown>[]).map((item) => [
        item.model,
        item.requests,
        item.prompt_tokens,
        item.completion_tokens,
        item.cost_usd,
      ]),
    ).toEqual(
      ledger.map((row) => [
        row.model,
        Number(row.requests),
        Number(row.prompt),
        Number(row.completion),
        usd(Number(row.cost)),
      ]),
    );
    const totalCost = ledger.reduce((total, row) => total + Number(row.cost), 0);
    expect(byModel.body.totals.cost_usd).toBe(usd(totalCost));

    const byProvider = await report({ group_by: 'provider' }).expect(200);
    expect(
      (byProvider.body.items as { provider: string; cost_usd: number }[]).map((item) => [
        item.provider,
        item.cost_usd,
      ]),
    ).toEqual(ledger.map((row) => [row.provider, usd(Number(row.cost))]));

    const today = new Date().toISOString().slice(0, 10);
    const byDay = await report({ group_by: 'day', from: today, to: today }).expect(200);
    expect(byDay.body.items).toEqual([{ day: today, ...byModel.body.totals }]);
    // The default grouping is per user, from the first of the month to today.
    const byDefault = await report({}).expect(200);
    expect(byDefault.body).toMatchObject({
      group_by: 'user',
      from: `${today.slice(0, 8)}01`,
      to: today,
    });
    expect(byDefault.body.totals).toEqual(byModel.body.totals);
  });

  it.each([
    [{ group_by: 'key' }, 'group_by must be one of: user, model, provider, day'],
    [{ from: '2026-02-30' }, 'from must be a real date YYYY-MM-DD'],
    [{ to: 'yesterday' }, 'to must be a date YYYY-MM-DD'],
    [{ from: '2026-03-02', to: '2026-03-01' }, 'from must not be after to'],
    [
      { from: '2025-01-01', to: '2026-03-01' },
      'the range from 2025-01-01 to 2026-03-01 covers 425 days; at most 366',
    ],
    [{ user: 'x' }, 'user is not an allowed field'],
  ])('answers 400 for the report query %j', async (query, detail) => {
    const res = await report(query);
    expect(res.status).toBe(400);
    expect(res.body.detail).toBe(detail);
  });
});
