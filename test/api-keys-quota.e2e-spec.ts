import request from 'supertest';
import { DataSource } from 'typeorm';
import { connectChatSocket, describeE2e, registerAndLogin, startTestApp } from '@app/testing';
import { InterruptedReplySweeper } from '../src/chat/generations/interrupted-reply-sweeper';
import { PendingReplyKeys } from '../src/chat/generations/pending-reply-keys';
import { HistoryService } from '../src/history/history.service';

const as = (token: string) => ({ Authorization: `Bearer ${token}` });
const KEY_QUOTA_DETAIL = (limit: number) =>
  `This API key's daily token quota of ${limit} tokens used up; it resets at 00:00 UTC`;

/**
 * A personal API key's own daily token quota (`tokens_per_day`, else QUOTA__API_KEY_TOKENS_PER_DAY),
 * counted with its user's QUOTA__TOKENS_PER_DAY: both apply, on /api/chat, /v1 and sockets.
 */
describeE2e('personal API keys: daily token quota per key', () => {
  let t: Awaited<ReturnType<typeof startTestApp>>;
  let user: Awaited<ReturnType<typeof registerAndLogin>>;

  const createKey = async (body: object) =>
    (
      await request(t.url)
        .post('/api/keys')
        .set(as(user.token))
        .send({ scopes: ['chat'], ...body })
        .expect(201)
    ).body as { id: string; key: string; tokens_per_day: number | null };
  const chat = (token: string, message = 'Count my tokens, please') =>
    request(t.url).post('/api/chat').set(as(token)).send({ message });

  beforeAll(async () => {
    // Keys without a quota of their own get 10 tokens a day; the user has plenty.
    t = await startTestApp({ QUOTA__API_KEY_TOKENS_PER_DAY: '10' });
    user = await registerAndLogin(t.url);
  });
  afterAll(() => t?.close());

  it("refuses a key once its tokens are used, while the user's other key and token still work", async () => {
    const small = await createKey({ name: 'small', tokens_per_day: 10 });
    const big = await createKey({ name: 'big', tokens_per_day: 1_000_000 });
    expect(small.tokens_per_day).toBe(10);

    const first = await chat(small.key).expect(200);
    expect(first.body.usage.tokens).toBeGreaterThanOrEqual(10);
    const refused = await chat(small.key).expect(429);
    expect(refused.body).toEqual({ detail: KEY_QUOTA_DETAIL(10) });
    const retryAfter = Number(refused.headers['retry-after']);
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(86_400);

    // The refused turn stored nothing: the session list holds only the first exchange.
    const history = await request(t.url).get('/api/history').set(as(user.token)).expect(200);
    expect(history.body.total).toBe(1);

    await chat(big.key).expect(200);
    await chat(user.token).expect(200);
  });

  it('refuses the spent key on /v1 in OpenAI’s error shape, stateless and stored', async () => {
    const key = await createKey({ name: 'v1', tokens_per_day: 10 });
    const completion = (body: object) =>
      request(t.url)
        .post('/v1/chat/completions')
        .set(as(key.key))
        .send({
          model: 'local/echo',
          messages: [{ role: 'user', content: 'hello there' }],
          ...body,
        });
    const first = await completion({}).expect(200);
    expect(first.body.usage.total_tokens).toBeGreaterThanOrEqual(10);
    for (const body of [{}, { store: true }]) {
      const res = await completion(body).expect(429);
      expect(res.body).toEqual({
        error: {
          message: KEY_QUOTA_DETAIL(10),
          type: expect.any(String),
          param: null,
          code: 'rate_limit_exceeded',
        },
        detail: KEY_QUOTA_DETAIL(10),
      });
      expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
    }
  });

  it('refuses the spent key on Socket.IO', async () => {
    const key = await createKey({ name: 'socket', tokens_per_day: 10 });
    await chat(key.key).expect(200);
    const socket = await connectChatSocket(t.url, key.key);
    try {
      const refused = await socket.emitWithAck('chat:send', { message: 'over a socket' });
      expect(refused).toEqual({ ok: false, detail: KEY_QUOTA_DETAIL(10), status: 429 });
    } finally {
      socket.disconnect();
    }
  });

  it('gives a key without tokens_per_day the deployment default, and lists both', async () => {
    const defaulted = await createKey({ name: 'default' });
    expect(defaulted.tokens_per_day).toBeNull();
    await chat(defaulted.key).expect(200);
    expect((await chat(defaulted.key).expect(429)).body).toEqual({
      detail: KEY_QUOTA_DETAIL(10),
    });

    const list = await request(t.url).get('/api/keys').set(as(user.token)).expect(200);
    const quotas = Object.fromEntries(
      (list.body.items as { name: string; tokens_per_day: number | null }[]).map((k) => [
        k.name,
        k.tokens_per_day,
      ]),
    );
    expect(quotas).toEqual({ small: 10, big: 1_000_000, v1: 10, socket: 10, default: null });
  });

  it('charges the key for the tokens of a reply the sweeper finishes after its instance died', async () => {
    const key = await createKey({ name: 'crashed', tokens_per_day: 10 });
    const rows = () =>
      t.app
        .get(DataSource)
        .query<{ message_id: string; api_key_id: string }[]>(
          'SELECT message_id, api_key_id FROM pending_reply_keys',
        );
    // A turn that ends on its own charges the key itself and leaves no row behind.
    const spare = await createKey({ name: 'spare', tokens_per_day: 1_000_000 });
    await chat(spare.key).expect(200);
    expect(await rows()).toEqual([]);

    // What an instance killed mid-reply leaves: a pending reply with checkpointed text, the key
    // it was requested with, and no live generation or session lock.
    const history = t.app.get(HistoryService);
    const session = await history.createSession(user.id, 'killed mid-reply');
    const reply = await history.startExchange(session.id, 'Tell me a long story', 'local/echo');
    await history.checkpointReplies([
      {
        sessionId: session.id,
        messageId: reply.id,
        content: 'Once upon a time there were many words in a long story',
      },
    ]);
    await t.app.get(PendingReplyKeys).remember(reply.id, key.id);
    expect(await rows()).toEqual([{ message_id: reply.id, api_key_id: key.id }]);

    await t.app.get(InterruptedReplySweeper).sweep();

    const messages = await request(t.url)
      .get(`/api/history/${session.id}`)
      .set(as(user.token))
      .expect(200);
    expect(messages.body.messages[1]).toMatchObject({
      status: 'error',
      content: 'Once upon a time there were many words in a long story',
    });
    expect(await rows()).toEqual([]);
    // The reply's 12 or so tokens went to the key's quota of 10: the key is spent.
    expect((await chat(key.key).expect(429)).body).toEqual({ detail: KEY_QUOTA_DETAIL(10) });
    await chat(user.token).expect(200);
  });

  it("refuses every key once the user's own daily quota is used up (both apply)", async () => {
    const tight = await startTestApp({ QUOTA__TOKENS_PER_DAY: '10' });
    try {
      const owner = await registerAndLogin(tight.url);
      const key = (
        await request(tight.url)
          .post('/api/keys')
          .set(as(owner.token))
          .send({ name: 'roomy', scopes: ['chat'], tokens_per_day: 1_000_000 })
          .expect(201)
      ).body.key as string;
      const send = (token: string) =>
        request(tight.url).post('/api/chat').set(as(token)).send({ message: 'hello' });
      await send(key).expect(200);
      const userQuota = 'Daily token quota of 10 tokens used up; it resets at 00:00 UTC';
      expect((await send(key).expect(429)).body).toEqual({ detail: userQuota });
      expect((await send(owner.token).expect(429)).body).toEqual({ detail: userQuota });
    } finally {
      await tight.close();
    }
  });
});
