import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import {
  AppProcess,
  appProcessesOnTestPostgres,
  describeWithServices,
  postSse,
  serviceUrl,
  startAppProcess,
} from '@app/testing';
import { countTokens } from '../src/providers/token-counter';
import {
  api,
  type ApiUser,
  longMessage,
  newUser,
  settledMessages,
  sleep,
} from './multi-instance.helpers';

/**
 * `kill -9` of the instance in the middle of a reply, on the built app as a child process: the
 * reply's text is checkpointed while it streams, and the sweeper of a live instance (here: the
 * restarted one, at start-up) stores it as `error` "interrupted" with the checkpointed text; the
 * session takes a new message (no stuck lock), and the spend the reply reserved is settled to
 * what it produced.
 */
describeWithServices(['postgres'], 'kill -9 during a reply (app process)', () => {
  const baseEnv = appProcessesOnTestPostgres({
    AI_SERVICES__LOCAL_DELAY_MS: '20',
    CHAT__CHECKPOINT_MS: '100',
  });

  /**
   * Starts a long reply on `app` (with `bearer`'s credential: an API key, else the user's access
   * token; `body` adds to the request), lets it stream a while, SIGKILLs the process.
   */
  async function killMidReply(
    app: AppProcess,
    {
      user,
      bearer,
      body = {},
    }: {
      user?: ApiUser;
      bearer?: (user: ApiUser) => Promise<string>;
      body?: Record<string, unknown>;
    } = {},
  ) {
    user ??= await newUser(app.url);
    const stream = await postSse(
      app.url,
      '/api/chat/stream',
      { message: longMessage(), ...body },
      { token: bearer ? await bearer(user) : user.token },
    );
    const start = await stream.waitFor('start');
    await sleep(600);
    const seen = stream.events
      .filter((e) => e.event === 'delta')
      .map((e) => e.data.text)
      .join('');
    const exit = await app.stop('SIGKILL', 10_000);
    expect(exit.signal).toBe('SIGKILL');
    return { user, sessionId: start.data.session_id as string, seen };
  }

  /** The session is not left locked: `app` answers a new message in it; then `app` stops. */
  async function expectSessionTakesNewMessage(
    app: AppProcess,
    user: { token: string },
    sessionId: string,
    message: string,
  ) {
    const next = await api(app.url, 'POST', '/api/chat', {
      token: user.token,
      body: { message, session_id: sessionId },
    });
    expect(next.status).toBe(200);
    await app.stop('SIGTERM', 20_000);
  }

  /**
   * Two instances on the shared Redis with a daily budget of `usdPerDay` and `local/echo` priced
   * at `price` (USD per 1M tokens, so µ$ per token), and a Redis client to read the counters.
   */
  async function twoBudgetedInstances(price: { input: number; output: number }, usdPerDay: string) {
    const pricesFile = join(mkdtempSync(join(tmpdir(), 'crash-budget-')), 'prices.json');
    writeFileSync(pricesFile, JSON.stringify({ models: { 'local/echo': price } }));
    const env = {
      ...baseEnv(),
      REDIS_URL: serviceUrl('redis')!,
      MODEL_PRICES_FILE: pricesFile,
      BUDGET__USD_PER_DAY: usdPerDay,
      CHAT__GENERATE_TITLES: 'false',
    };
    const [a, b] = await Promise.all([startAppProcess(env), startAppProcess(env)]);
    return { a, b, redis: new Redis(serviceUrl('redis')!) };
  }

  it('a restarted single instance stores the reply as interrupted with its checkpointed text', async () => {
    const first = await startAppProcess(baseEnv());
    const { user, sessionId, seen } = await killMidReply(first);

    const restarted = await startAppProcess(baseEnv());
    const messages = await settledMessages(restarted.url, user.token, sessionId);
    const reply = messages[1];
    expect(reply.status).toBe('error');
    expect(reply.content.length).toBeGreaterThan(0);
    // At most one checkpoint interval behind what the client had seen.
    expect(seen.startsWith(reply.content)).toBe(true);

    await expectSessionTakesNewMessage(restarted, user, sessionId, 'are you back?');
  }, 120_000);

  it("charges the reply's tokens to the API key the killed turn was made with, as to its user", async () => {
    const first = await startAppProcess(baseEnv());
    let key = '';
    const withKey = async (user: ApiUser) => {
      const created = await api(first.url, 'POST', '/api/keys', {
        token: user.token,
        body: { name: 'crash', scopes: ['chat'], tokens_per_day: 10 },
      });
      expect(created.status).toBe(201);
      key = created.body.key as string;
      return key;
    };
    const { user, sessionId } = await killMidReply(first, { bearer: withKey });

    const restarted = await startAppProcess(baseEnv());
    const messages = await settledMessages(restarted.url, user.token, sessionId);
    expect(messages[1].status).toBe('error');
    expect(messages[1].content.length).toBeGreaterThan(0);
    // The checkpointed text (≥ 10 tokens after 600 ms of words) spent the key's 10 tokens a day.
    const refused = await api(restarted.url, 'POST', '/api/chat', {
      token: key,
      body: { message: 'one more' },
    });
    expect(refused.status).toBe(429);
    expect(refused.body.detail).toMatch(/^This API key's daily token quota of 10 tokens used up/);
    await expectSessionTakesNewMessage(restarted, user, sessionId, 'the user still can');
  }, 120_000);

  if (serviceUrl('redis')) {
    it('with two instances, the survivor finishes the reply of the killed one once its lease ran out', async () => {
      const env = { ...baseEnv(), REDIS_URL: serviceUrl('redis')! };
      const [a, b] = await Promise.all([startAppProcess(env), startAppProcess(env)]);
      const { user, sessionId, seen } = await killMidReply(a);

      // Lease (session lock, 30 s) plus one sweep interval (10 s).
      const messages = await settledMessages(b.url, user.token, sessionId, 50_000);
      expect(messages[1].status).toBe('error');
      expect(seen.startsWith(messages[1].content)).toBe(true);
      await expectSessionTakesNewMessage(b, user, sessionId, 'still there?');
    }, 120_000);

    it("settles the killed instance's budget reservation to the cost of the text it produced", async () => {
      // Reply tokens at 1 µ$ each, prompts free: a reply of max_tokens 2000 reserves 2000 µ$,
      // and the daily budget of 3000 µ$ leaves no room for a second one while it is reserved.
      const { a, b, redis } = await twoBudgetedInstances({ input: 0, output: 1 }, '0.003');
      try {
        const { user, sessionId } = await killMidReply(a, { body: { max_tokens: 2000 } });
        const counter = `chatbot:budget:day:${user.id}:${new Date().toISOString().slice(0, 10)}`;
        expect(Number(await redis.get(counter))).toBe(2000);
        const second = await api(b.url, 'POST', '/api/chat', {
          token: user.token,
          body: { message: 'while the reservation is held', max_tokens: 2000 },
        });
        expect(second.status).toBe(429);

        // Once the survivor's sweeper finished the reply, only what it produced is spent.
        const messages = await settledMessages(b.url, user.token, sessionId, 50_000);
        expect(messages[1].status).toBe('error');
        const produced = countTokens(messages[1].content);
        expect(produced).toBeGreaterThan(0);
        expect(produced).toBeLessThan(2000);
        expect(Number(await redis.get(counter))).toBe(produced);
        // The usage ledger has the attempt the killed instance never wrote, as `interrupted`.
        let totals: Record<string, number> = {};
        for (let i = 0; i < 50 && !totals.requests; i++) {
          await sleep(200);
          totals = (await api(b.url, 'GET', '/api/usage', { token: user.token })).body.totals;
        }
        expect(totals).toMatchObject({
          requests: 1,
          failed_requests: 1,
          completion_tokens: produced,
          cost_usd: produced / 1e6,
        });
        const third = await api(b.url, 'POST', '/api/chat', {
          token: user.token,
          body: { message: 'after the sweep', max_tokens: 2000, session_id: sessionId },
        });
        expect(third.status).toBe(200);
        await b.stop('SIGTERM', 20_000);
      } finally {
        redis.disconnect();
      }
    }, 120_000);

    it("settles a stateless /v1 call's reservation to its prompt once the killed instance's lease ran out", async () => {
      // Prompt and reply tokens at 1 µ$ each; a reply of max_tokens 2000 reserves 2000 µ$ more.
      const { a, b, redis } = await twoBudgetedInstances({ input: 1, output: 1 }, '1');
      try {
        const user = await newUser(a.url);
        const stream = await postSse(
          a.url,
          '/v1/chat/completions',
          {
            model: 'local/echo',
            messages: [{ role: 'user', content: longMessage() }],
            stream: true,
            max_tokens: 2000,
          },
          { token: user.token },
        );
        expect(stream.status).toBe(200);
        for (let i = 0; i < 100 && stream.events.length < 5; i++) await sleep(20);
        expect(stream.events.length).toBeGreaterThanOrEqual(5);
        const counter = `chatbot:budget:day:${user.id}:${new Date().toISOString().slice(0, 10)}`;
        const reserved = Number(await redis.get(counter));
        expect(reserved).toBeGreaterThan(2000);
        expect((await a.stop('SIGKILL', 10_000)).signal).toBe('SIGKILL');

        // Lease (30 s after its last renewal) plus one sweep interval (10 s) on the survivor.
        let spent = reserved;
        for (let i = 0; i < 120 && spent === reserved; i++) {
          await sleep(500);
          spent = Number(await redis.get(counter));
        }
        expect(spent).toBe(reserved - 2000);
        await b.stop('SIGTERM', 20_000);
      } finally {
        redis.disconnect();
      }
    }, 120_000);
  }
});
