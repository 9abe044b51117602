import request from 'supertest';
import { DataSource } from 'typeorm';
import { describeE2e } from '@app/testing';
import { MIGRATIONS } from '../src/database/migrations';
import { MessageToolCalls1766400000000 } from '../src/database/migrations/1766400000000-message-tool-calls';
import {
  revertAndReapply,
  startUpgradedApp,
  type UpgradedApp,
} from './factories/previous-release.factory';

/** The tool-calls column on a database that every earlier migration built and filled. */
describeE2e('chat_messages.tool_calls migration', () => {
  let upgraded: UpgradedApp;

  beforeAll(async () => {
    upgraded = await startUpgradedApp(
      MIGRATIONS.filter((migration) => migration !== MessageToolCalls1766400000000),
      'Before tool calls',
    );
  });
  afterAll(async () => {
    await upgraded?.close();
  });

  it('adds tool_calls (null) at start-up: old messages read without tool calls, chat goes on', async () => {
    const { t, old } = upgraded;
    const auth = { Authorization: `Bearer ${await upgraded.login()}` };
    await request(t.url)
      .post('/api/chat')
      .set(auth)
      .send({ message: 'after the upgrade', session_id: old.sessionId })
      .expect(200);
    const { body } = await request(t.url)
      .get(`/api/history/${old.sessionId}`)
      .set(auth)
      .expect(200);
    expect(body.messages).toHaveLength(3);
    expect(body.messages[0]).toMatchObject({ id: old.messageId, content: old.content });
    for (const message of body.messages) expect(message).not.toHaveProperty('tool_calls');
    const rows = await t.app
      .get(DataSource)
      .query('SELECT tool_calls FROM chat_messages WHERE session_id = ' + placeholder(t), [
        old.sessionId,
      ]);
    expect(rows).toEqual([{ tool_calls: null }, { tool_calls: null }, { tool_calls: null }]);
  });

  it('reverts cleanly: the column goes, the messages stay', async () => {
    await revertAndReapply(upgraded.t, new MessageToolCalls1766400000000(), {
      afterDown: async (runner) => {
        expect(await runner.hasColumn('chat_messages', 'tool_calls')).toBe(false);
        expect(await runner.query('SELECT COUNT(*) AS n FROM chat_messages')).toEqual([
          { n: expect.anything() },
        ]);
      },
      afterUp: async (runner) => {
        expect(await runner.hasColumn('chat_messages', 'tool_calls')).toBe(true);
      },
    });
  });
});

/** The first query parameter in the database's own style. */
function placeholder(t: UpgradedApp['t']): string {
  return t.app.get(DataSource).options.type === 'postgres' ? '$1' : '?';
}
