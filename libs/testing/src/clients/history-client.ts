import request from 'supertest';
import type { TestApp } from '../test-app';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Polls the stored session (its first page, GET /api/history/{id}) until the newest message there
 * leaves `pending`, and returns that page's messages. Gives up after 100 polls 50 ms apart.
 */
export async function settledMessages(t: TestApp, token: string, sessionId: string) {
  for (let i = 0; i < 100; i++) {
    const res = await request(t.url)
      .get(`/api/history/${sessionId}`)
      .set('Authorization', `Bearer ${token}`)
      .expect(200);
    const last = res.body.messages.at(-1);
    if (last && last.status !== 'pending') return res.body.messages;
    await sleep(50);
  }
  throw new Error('reply still pending');
}
