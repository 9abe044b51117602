import {
  AppProcess,
  describeWithPrivatePostgres,
  killAllAppProcesses,
  postSse,
  PrivatePostgres,
  startAppOnPrivatePostgres,
} from '@app/testing';
import {
  api,
  ApiUser,
  longMessage,
  newUser,
  settledMessages,
  sleep,
} from './multi-instance.helpers';

/**
 * PostgreSQL stops while a reply streams and comes back later: the client still gets its whole
 * reply, the final write is retried until the database is back, and the reply ends `complete`
 * with its text, never `pending`; the retry is counted in /metrics.
 */
describeWithPrivatePostgres('PostgreSQL stopped in the middle of a reply', () => {
  let pg: PrivatePostgres;
  let app: AppProcess;
  let alice: ApiUser;

  beforeAll(async () => {
    ({ pg, app } = await startAppOnPrivatePostgres({
      AI_SERVICES__LOCAL_DELAY_MS: '10',
      CHAT__CHECKPOINT_MS: '100',
    }));
    alice = await newUser(app.url);
  }, 300_000);

  afterAll(async () => {
    await killAllAppProcesses();
    await pg?.destroy();
  }, 60_000);

  it('stores the reply once the database is back', async () => {
    const stream = await postSse(
      app.url,
      '/api/chat/stream',
      { message: longMessage(200) },
      { token: alice.token },
    );
    const start = await stream.waitFor('start');
    await stream.waitFor('delta');
    await pg.stop('fast');
    const events = await stream.finished;
    expect(events.at(-1)!.event).toBe('done');
    const text = events
      .filter((e) => e.event === 'delta')
      .map((e) => e.data.text)
      .join('');

    await sleep(500);
    await pg.resume();
    const messages = await settledMessages(app.url, alice.token, start.data.session_id, 60_000);
    expect(messages[1]).toEqual(expect.objectContaining({ status: 'complete', content: text }));
    const metrics = await api(app.url, 'GET', '/metrics');
    expect(metrics.text).toMatch(/chatbot_reply_write_retries_total\{outcome="stored"\} 1/);
    expect(metrics.text).toMatch(/chatbot_reply_writes_waiting 0/);
  }, 120_000);
});
