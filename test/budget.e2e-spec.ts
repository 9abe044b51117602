import request from 'supertest';
import {
  type AppWithSimulator,
  connectChatSocket,
  describeE2e,
  nextSocketEvent,
  ProviderSimulator,
  registerAndLogin,
  settledMessages,
  startAppWithSimulator,
  startTestApp,
} from '@app/testing';
import type { LoggedInUser, TestApp } from '@app/testing';
import { countMessagesTokens } from '../src/providers/token-counter';
import { BudgetOverridesService } from '../src/usage/budget/budget-overrides';
import { UsageLedger } from '../src/usage/usage-ledger';
import { writePricesFile } from './factories/prices.factory';

/** Whole micro-dollars per token, so costs and reservations are exact integers. */
const IN = 2;
const OUT = 3;
const MAX_TOKENS = 100;
const MESSAGE = 'what will this cost me';

/** Spend budgets: the reservation before the call, the settlement after, the 429 instead. */
describeE2e('spend budgets', () => {
  let t: TestApp;
  let sim: ProviderSimulator;
  let overrides: BudgetOverridesService;
  const as = (user: LoggedInUser) => ({ Authorization: `Bearer ${user.token}` });
  const chat = (user: LoggedInUser) =>
    request(t.url)
      .post('/api/chat')
      .set(as(user))
      .send({ message: MESSAGE, max_tokens: MAX_TOKENS });
  /** What the app reserves for MESSAGE in a new session. */
  const reservation =
    countMessagesTokens([{ role: 'user', content: MESSAGE }]) * IN + MAX_TOKENS * OUT;
  const usd = (micros: number) => micros / 1_000_000;

  beforeAll(async () => {
    sim = new ProviderSimulator();
    const url = await sim.start();
    const pricesFile = writePricesFile({
      'groq/llama-3.1-8b-instant': { input: IN, output: OUT },
    });
    t = await startTestApp({
      AI_SERVICES__GROQ_API_KEY: 'sim-groq-key',
      AI_SERVICES__GROQ_BASE_URL: url,
      AI_SERVICES__DEFAULT_MODEL: 'groq/llama-3.1-8b-instant',
      MODEL_PRICES_FILE: pricesFile,
      // Everyone has a large default budget; the users under test get overrides.
      BUDGET__USD_PER_DAY: '100',
      RATE_LIMIT__AUTH_PER_MINUTE: '10000',
      SHUTDOWN_GRACE_MS: '0',
    });
    overrides = t.app.get(BudgetOverridesService);
  });
  afterEach(() => sim.reset());
  afterAll(async () => {
    await t.close();
    await sim.stop();
  });

  it('refuses a request that could exceed the budget with 429 before the provider sees it', async () => {
    const user = await registerAndLogin(t.url);
    await overrides.set(user.id, { usdPerDay: usd(reservation - 1), usdPerMonth: null });
    const res = await chat(user).expect(429);
    expect(res.body.detail).toMatch(
      /^Daily spending limit of \$0\.\d+ would be exceeded: this request may cost up to \$0\.\d+ and \$0\.\d+ is left; it resets at 00:00 UTC$/,
    );
    const untilMidnight = 86_400 - Math.floor((Date.now() % 86_400_000) / 1000);
    expect(Number(res.headers['retry-after'])).toBeGreaterThan(untilMidnight - 5);
    expect(Number(res.headers['retry-after'])).toBeLessThanOrEqual(untilMidnight + 1);
    // Nothing reached the provider, and no session was started.
    expect(sim.requests).toHaveLength(0);
    const history = await request(t.url).get('/api/history').set(as(user)).expect(200);
    expect(history.body.total).toBe(0);
    // The same on the streaming route and on /v1/chat/completions.
    await request(t.url)
      .post('/api/chat/stream')
      .set(as(user))
      .send({ message: MESSAGE, max_tokens: MAX_TOKENS })
      .expect(429);
    const v1 = await request(t.url)
      .post('/v1/chat/completions')
      .set(as(user))
      .send({
        model: 'groq/llama-3.1-8b-instant',
        messages: [{ role: 'user', content: MESSAGE }],
        max_tokens: MAX_TOKENS,
      })
      .expect(429);
    expect(v1.body.error.message).toMatch(/^Daily spending limit/);
    expect(sim.requests).toHaveLength(0);
  });

  it('refuses it on Socket.IO too: ack ok:false 429 and chat:error, no provider call', async () => {
    const user = await registerAndLogin(t.url);
    await overrides.set(user.id, { usdPerDay: usd(reservation - 1), usdPerMonth: null });
    const socket = await connectChatSocket(t.url, user.token);
    try {
      const error = nextSocketEvent(socket, 'chat:error');
      const ack = await socket
        .timeout(10_000)
        .emitWithAck('chat:send', { message: MESSAGE, max_tokens: MAX_TOKENS });
      expect(ack).toEqual(
        expect.objectContaining({
          ok: false,
          status: 429,
          detail: expect.stringMatching(/^Daily spending limit/),
        }),
      );
      expect(await error).toEqual(expect.objectContaining({ status: 429, detail: ack.detail }));
      expect(sim.requests).toHaveLength(0);
    } finally {
      socket.close();
    }
  });

  it('settles to the real cost to the micro-dollar: exactly what is left is usable', async () => {
    const user = await registerAndLogin(t.url);
    await overrides.set(user.id, { usdPerDay: usd(reservation), usdPerMonth: null });
    const first = await chat(user).expect(200);
    const { prompt_tokens: prompt, completion_tokens: completion } = first.body.usage;
    const cost = prompt * IN + completion * OUT;
    expect(cost).toBeLessThan(reservation);
    await t.app.get(UsageLedger).flush();
    const report = await request(t.url).get('/api/usage').set(as(user)).expect(200);
    expect(report.body.totals.cost_usd).toBe(usd(cost));

    // Spent: `cost`. A limit of cost + reservation admits one more request, one less does not.
    await overrides.set(user.id, { usdPerDay: usd(cost + reservation - 1), usdPerMonth: null });
    await chat(user).expect(429);
    await overrides.set(user.id, { usdPerDay: usd(cost + reservation), usdPerMonth: null });
    await chat(user).expect(200);
    expect(sim.requests).toHaveLength(2);
    const spent = await chat(user).expect(429);
    expect(spent.body.detail).toMatch(/^Daily spending limit of/);
    expect(sim.requests).toHaveLength(2);
  });

  it('a monthly override is named with the day it resets', async () => {
    const user = await registerAndLogin(t.url);
    await overrides.set(user.id, { usdPerDay: null, usdPerMonth: usd(1) });
    await overrides.set(user.id, { usdPerDay: null, usdPerMonth: 0.000001 });
    const res = await chat(user).expect(429);
    const now = new Date();
    const next = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1));
    expect(res.body.detail).toContain(`resets on ${next.toISOString().slice(0, 10)} at 00:00 UTC`);
    expect(sim.requests).toHaveLength(0);
  });

  it('counts rejections and provider cost in /metrics (no per-user labels)', async () => {
    const text = (await request(t.url).get('/metrics').expect(200)).text;
    expect(text).toMatch(/chatbot_budget_rejections_total\{period="day"\} [1-9]/);
    expect(text).toMatch(/chatbot_budget_rejections_total\{period="month"\} [1-9]/);
    expect(text).toMatch(
      /chatbot_provider_cost_usd_total\{provider="groq",model="llama-3\.1-8b-instant"\} 0\.\d+/,
    );
    expect(text).not.toMatch(/chatbot_(budget|provider_cost)[^\n]*user/);
  });

  it('overrides: an unknown user is 404, a negative limit 400, clear restores the default', async () => {
    await expect(
      overrides.set('00000000-0000-4000-8000-000000000000', { usdPerDay: 1, usdPerMonth: null }),
    ).rejects.toMatchObject({ status: 404 });
    const user = await registerAndLogin(t.url);
    await expect(
      overrides.set(user.id, { usdPerDay: -1, usdPerMonth: null }),
    ).rejects.toMatchObject({
      status: 400,
    });
    await overrides.set(user.id, { usdPerDay: 0.000001, usdPerMonth: null });
    expect(await overrides.find(user.id)).toEqual({ usdPerDay: 0.000001, usdPerMonth: null });
    await chat(user).expect(429);
    await overrides.clear(user.id);
    expect(await overrides.find(user.id)).toBeNull();
    await chat(user).expect(200);
  });
});

/** Every model call of a turn is reserved before it is made, server-side tool rounds included. */
describeE2e('spend budgets with server-side tool rounds', () => {
  let t: AppWithSimulator;
  const ASK = 'What is 6*7? [[tool:calculator {"expression": "6*7"}]]';

  beforeAll(async () => {
    t = await startAppWithSimulator({
      MODEL_PRICES_FILE: writePricesFile({
        'groq/llama-3.1-8b-instant': { input: IN, output: OUT },
      }),
      BUDGET__USD_PER_DAY: '100',
      TOOLS__SERVER_TOOLS: 'calculator',
      CHAT__GENERATE_TITLES: 'false',
      RATE_LIMIT__AUTH_PER_MINUTE: '10000',
      SHUTDOWN_GRACE_MS: '0',
    });
  });
  afterAll(() => t.close());

  it('a budget that pays for the first call but not the second ends the turn before the second', async () => {
    const user = await registerAndLogin(t.url);
    // The first call's reservation fits; the second call's (a longer prompt, the same
    // MAX_TOKENS) does not while the first is still reserved.
    const first = await request(t.url)
      .post('/api/chat')
      .set('Authorization', `Bearer ${user.token}`)
      .send({ message: 'What is 1+1?', max_tokens: MAX_TOKENS })
      .expect(200);
    const oneCall = first.body.usage.prompt_tokens * IN + MAX_TOKENS * OUT;
    await t.app
      .get(BudgetOverridesService)
      .set(user.id, { usdPerDay: (oneCall * 1.5) / 1_000_000, usdPerMonth: null });
    t.sim.reset();

    const res = await request(t.url)
      .post('/api/chat')
      .set('Authorization', `Bearer ${user.token}`)
      .send({ message: ASK, max_tokens: MAX_TOKENS, session_id: undefined })
      .expect(429);
    expect(res.body.detail).toMatch(/^Daily spending limit of \$0\.\d+ would be exceeded/);
    // The calculator ran, the model was not called again.
    expect(t.sim.requests).toHaveLength(1);
    const session = (
      await request(t.url)
        .get('/api/history')
        .set('Authorization', `Bearer ${user.token}`)
        .expect(200)
    ).body.items[0];
    const messages = await settledMessages(t, user.token, session.session_id);
    expect(messages.at(-1)).toMatchObject({
      role: 'assistant',
      status: 'error',
      tool_calls: [
        expect.objectContaining({
          name: 'calculator',
          executed_by: 'server',
          result: { content: '42', is_error: false },
        }),
      ],
    });
  });
});
