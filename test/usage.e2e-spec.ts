import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { describeE2e, ProviderSimulator, registerAndLogin, startTestApp } from '@app/testing';
import type { LoggedInUser, TestApp } from '@app/testing';
import { UsageLedger } from '../src/usage/usage-ledger';

/** Whole micro-dollars per token, so expected costs are exact integers. */
const PRICES = {
  models: {
    'groq/llama-3.1-8b-instant': { input: 2, output: 3, cached_input: 1 },
  },
};

/** The usage ledger (every provider attempt, with its cost) and GET /api/usage. */
describeE2e('usage ledger and GET /api/usage', () => {
  let t: TestApp;
  let sim: ProviderSimulator;
  let db: DataSource;
  let alice: LoggedInUser;
  let bob: LoggedInUser;
  const as = (user: LoggedInUser | string) => ({
    Authorization: `Bearer ${typeof user === 'string' ? user : user.token}`,
  });
  const chat = (user: LoggedInUser, body: object) =>
    request(t.url).post('/api/chat').set(as(user)).send(body).expect(200);
  const usage = (user: LoggedInUser | string, query = '') =>
    request(t.url).get(`/api/usage${query}`).set(as(user));
  const rows = async (userId: string) => {
    await t.app.get(UsageLedger).flush();
    return db.query(
      `SELECT * FROM usage_records WHERE user_id = ${db.options.type === 'postgres' ? '$1' : '?'} ORDER BY id`,
      [userId],
    );
  };

  beforeAll(async () => {
    sim = new ProviderSimulator();
    const url = await sim.start();
    const dir = mkdtempSync(join(tmpdir(), 'usage-e2e-'));
    const pricesFile = join(dir, 'prices.json');
    writeFileSync(pricesFile, JSON.stringify(PRICES));
    t = await startTestApp({
      AI_SERVICES__GROQ_API_KEY: 'sim-groq-key',
      AI_SERVICES__GROQ_BASE_URL: url,
      AI_SERVICES__OPEN_ROUTER_API_KEY: 'sim-or-key',
      AI_SERVICES__OPEN_ROUTER_BASE_URL: url,
      AI_SERVICES__OPENAI_COMPATIBLE_BASE_URL: url,
      AI_SERVICES__OPENAI_COMPATIBLE_API_KEY: 'sim-compat-key',
      AI_SERVICES__OPENAI_COMPATIBLE_MODELS: 'unpriced',
      AI_SERVICES__DEFAULT_MODEL: 'groq/llama-3.1-8b-instant',
      AI_SERVICES__MAX_RETRIES: '1',
      AI_SERVICES__RETRY_BASE_MS: '1',
      AI_SERVICES__BREAKER_THRESHOLD: '1000',
      MODEL_PRICES_FILE: pricesFile,
      USAGE__FLUSH_MS: '60000',
      RATE_LIMIT__AUTH_PER_MINUTE: '10000',
      SHUTDOWN_GRACE_MS: '0',
    });
    db = t.app.get(DataSource);
    alice = await registerAndLogin(t.url);
    bob = await registerAndLogin(t.url);
  });
  afterEach(() => sim.reset());
  afterAll(async () => {
    await t.close();
    await sim.stop();
  });

  it('records the attempt with its ids, key alias and a cost exact to the micro-dollar', async () => {
    sim.script({ cachedTokens: 4 });
    const reply = await chat(alice, { message: 'price this exchange' });
    const { prompt_tokens: prompt, completion_tokens: completion } = reply.body.usage;
    const expected = (prompt - 4) * 2 + 4 * 1 + completion * 3;

    const [row] = await rows(alice.id);
    expect(row).toMatchObject({
      user_id: alice.id,
      api_key_id: null,
      session_id: reply.body.session_id,
      message_id: reply.body.message_id,
      provider: 'groq',
      model: 'groq/llama-3.1-8b-instant',
      key_alias: 'groq#1',
      prompt_tokens: prompt,
      completion_tokens: completion,
      cached_tokens: 4,
      status: 'success',
      fallback_step: 0,
      retry: 0,
    });
    expect(Number(row.cost_micros)).toBe(expected);
    expect(JSON.stringify(row)).not.toContain('sim-groq-key');

    const report = await usage(alice).expect(200);
    expect(report.body.totals).toEqual({
      requests: 1,
      failed_requests: 0,
      prompt_tokens: prompt,
      completion_tokens: completion,
      cached_tokens: 4,
      tokens: prompt + completion,
      cost_usd: expected / 1_000_000,
      cost_unknown_requests: 0,
    });
  });

  it('records every attempt: a failed one and its retry', async () => {
    sim.script({ status: 503 });
    const before = (await rows(alice.id)).length;
    const reply = await chat(alice, { message: 'after a failure' });
    const attempts = (await rows(alice.id)).slice(before);
    expect(attempts.map((r: { status: string; retry: number }) => [r.status, r.retry])).toEqual([
      ['server', 0],
      ['success', 1],
    ]);
    expect(Number(attempts[0].cost_micros)).toBe(0);
    expect(attempts[1].message_id).toBe(reply.body.message_id);
  });

  it("uses OpenRouter's own charge (usage.cost) when the response carries one", async () => {
    sim.script({ costUsd: 0.001234 });
    await chat(bob, { message: 'via openrouter', model: 'openrouter/openai/gpt-4o-mini' });
    const [row] = await rows(bob.id);
    expect(row.model).toBe('openrouter/openai/gpt-4o-mini');
    expect(Number(row.cost_micros)).toBe(1234);
  });

  it('a model without a price has an unknown cost: null, counted apart, never 0', async () => {
    const carol = await registerAndLogin(t.url);
    await chat(carol, { message: 'unpriced', model: 'openai-compatible/unpriced' });
    const [row] = await rows(carol.id);
    expect(row.cost_micros).toBeNull();
    const report = await usage(carol, '?group_by=model').expect(200);
    expect(report.body.totals).toMatchObject({
      requests: 1,
      cost_usd: 0,
      cost_unknown_requests: 1,
    });
    expect(report.body.items).toEqual([
      expect.objectContaining({ model: 'openai-compatible/unpriced', cost_unknown_requests: 1 }),
    ]);
  });

  it('groups by day and by model, and shows only the caller’s usage', async () => {
    const today = new Date().toISOString().slice(0, 10);
    const byDay = await usage(alice, `?from=${today}&to=${today}&group_by=day`).expect(200);
    expect(byDay.body).toMatchObject({ from: today, to: today, group_by: 'day' });
    expect(byDay.body.items).toEqual([expect.objectContaining({ day: today, requests: 3 })]);
    const byModel = await usage(alice, '?group_by=model').expect(200);
    expect(byModel.body.items.map((i: { model: string }) => i.model)).toEqual([
      'groq/llama-3.1-8b-instant',
    ]);
    const stranger = await registerAndLogin(t.url);
    const empty = await usage(stranger).expect(200);
    expect(empty.body.items).toEqual([]);
    expect(empty.body.totals.requests).toBe(0);
  });

  it.each([
    ['?from=2026-13-01', 'from must be a date YYYY-MM-DD|from must be a real date'],
    ['?from=yesterday', 'from must be a date YYYY-MM-DD'],
    ['?to=2026-02-30', 'to must be a real date YYYY-MM-DD'],
    ['?from=2026-11-02&to=2026-11-01', 'from must not be after to'],
    ['?from=2024-01-01&to=2026-01-01', 'covers 732 days; at most 366'],
    ['?group_by=week', 'group_by must be one of: day, model'],
    ['?user_id=someone', 'user_id is not an allowed field'],
  ])('400 {detail} for %s', async (query, detail) => {
    const res = await usage(alice, query).expect(400);
    expect(res.body.detail).toMatch(new RegExp(detail));
  });

  it('needs a token (401), and of API keys the usage:read scope (403 otherwise)', async () => {
    await request(t.url).get('/api/usage').expect(401);
    const key = async (scopes: string[]) =>
      (
        await request(t.url)
          .post('/api/keys')
          .set(as(alice))
          .send({ name: scopes.join(), scopes })
          .expect(201)
      ).body.key as string;
    const chatKey = await key(['chat', 'history:read']);
    const denied = await usage(chatKey).expect(403);
    expect(denied.body.detail).toBe('This API key does not have the "usage:read" scope');
    const reader = await key(['usage:read']);
    const report = await usage(reader).expect(200);
    expect(report.body.totals.requests).toBe(3);
  });

  it('stores the API key id of a chat that came through a key', async () => {
    const created = await request(t.url)
      .post('/api/keys')
      .set(as(bob))
      .send({ name: 'chatter', scopes: ['chat'] })
      .expect(201);
    await request(t.url)
      .post('/api/chat')
      .set(as(created.body.key))
      .send({ message: 'through a key' })
      .expect(200);
    const last = (await rows(bob.id)).at(-1);
    expect(last.api_key_id).toBe(created.body.id);
  });

  it("deleting the account deletes the user's usage rows", async () => {
    const dave = await registerAndLogin(t.url);
    await chat(dave, { message: 'soon gone' });
    expect(await rows(dave.id)).toHaveLength(1);
    await request(t.url).delete('/api/users/me').set(as(dave)).expect(204);
    expect(await rows(dave.id)).toEqual([]);
  });
});
