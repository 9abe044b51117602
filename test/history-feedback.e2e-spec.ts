import request from 'supertest';
import { describeE2e, LoggedInUser, registerAndLogin, startTestApp, TestApp } from '@app/testing';
import { findSamples } from './metrics-text';

const UNKNOWN_ID = '00000000-0000-4000-8000-000000000000';

/** PUT / DELETE /api/history/{session_id}/messages/{message_id}/feedback. */
describeE2e('history: feedback on replies', () => {
  let t: TestApp;
  let alice: LoggedInUser;
  let bob: LoggedInUser;
  let sessionId: string;
  let question: { id: string };
  let reply: { id: string; model: string };
  let otherReply: string;

  const as = (user: LoggedInUser) => ({
    put: (path: string, body: unknown) =>
      request(t.url)
        .put(path)
        .set('Authorization', `Bearer ${user.token}`)
        .send(body as object),
    delete: (path: string) =>
      request(t.url).delete(path).set('Authorization', `Bearer ${user.token}`),
    get: (path: string) => request(t.url).get(path).set('Authorization', `Bearer ${user.token}`),
  });
  const feedbackPath = (messageId: string, session = sessionId) =>
    `/api/history/${session}/messages/${messageId}/feedback`;
  const chat = async (user: LoggedInUser, message: string) => {
    const res = await request(t.url)
      .post('/api/chat')
      .set('Authorization', `Bearer ${user.token}`)
      .send({ message })
      .expect(200);
    const read = await as(user).get(`/api/history/${res.body.session_id}`).expect(200);
    return { sessionId: res.body.session_id as string, messages: read.body.messages };
  };
  const feedbackOf = async (messageId: string) =>
    (await as(alice).get(`/api/history/${sessionId}?tree=full`).expect(200)).body.messages.find(
      (m: { id: string }) => m.id === messageId,
    ).feedback;
  const ratings = async (rating: string) =>
    findSamples(
      (await request(t.url).get('/metrics').expect(200)).text,
      'chatbot_message_feedback_total',
      {
        model: 'local/echo',
        rating,
      },
    )[0]?.value ?? 0;

  beforeAll(async () => {
    t = await startTestApp();
    [alice, bob] = await Promise.all([registerAndLogin(t.url), registerAndLogin(t.url)]);
    const first = await chat(alice, 'Rate me');
    sessionId = first.sessionId;
    [question, reply] = first.messages;
    otherReply = (await chat(alice, 'Another session')).messages[1].id;
  });
  afterAll(() => t?.close());

  it('rates a reply, shows it on the message, replaces it and counts each rating per model', async () => {
    expect(await feedbackOf(reply.id)).toBeNull();
    const downBefore = await ratings('down');

    const down = await as(alice)
      .put(feedbackPath(reply.id), { rating: 'down', comment: 'Too vague' })
      .expect(200);
    expect(down.body).toEqual({ rating: 'down', comment: 'Too vague' });
    expect(await feedbackOf(reply.id)).toEqual({ rating: 'down', comment: 'Too vague' });
    expect(await ratings('down')).toBe(downBefore + 1);

    const upBefore = await ratings('up');
    const up = await as(alice).put(feedbackPath(reply.id), { rating: 'up' }).expect(200);
    expect(up.body).toEqual({ rating: 'up', comment: null });
    expect(await feedbackOf(reply.id)).toEqual({ rating: 'up', comment: null });
    expect(await ratings('up')).toBe(upBefore + 1);
    // Rating is not activity: the session keeps its place in the list.
    const list = (await as(alice).get('/api/history').expect(200)).body.items;
    expect(list[0].session_id).not.toBe(sessionId);
  });

  it('removes a rating (204, also when there is none)', async () => {
    await as(alice).put(feedbackPath(reply.id), { rating: 'up' }).expect(200);
    await as(alice).delete(feedbackPath(reply.id)).expect(204);
    expect(await feedbackOf(reply.id)).toBeNull();
    await as(alice).delete(feedbackPath(reply.id)).expect(204);
  });

  it.each<[string, unknown, string, string]>([
    ['no rating', {}, 'rating', 'rating must be one of: up, down'],
    ['an unknown rating', { rating: 'meh' }, 'rating', 'rating must be one of: up, down'],
    ['a numeric rating', { rating: 1 }, 'rating', 'rating must be one of: up, down'],
    ['a numeric comment', { rating: 'up', comment: 5 }, 'comment', 'comment must be a string'],
    [
      'a comment too long',
      { rating: 'up', comment: 'x'.repeat(2001) },
      'comment',
      'comment must be at most 2000 characters',
    ],
    ['an unknown field', { rating: 'up', stars: 5 }, 'stars', 'stars is not an allowed field'],
  ])('refuses %s with 400 and stores nothing', async (_label, body, field, message) => {
    const res = await as(alice).put(feedbackPath(reply.id), body);
    expect(res.status).toBe(400);
    expect(res.body).toEqual({
      detail: expect.stringContaining(message),
      errors: expect.arrayContaining([{ field, message }]),
    });
    expect(await feedbackOf(reply.id)).toBeNull();
  });

  it('refuses to rate a user message with 400', async () => {
    const res = await as(alice).put(feedbackPath(question.id), { rating: 'up' });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({
      detail: 'Only assistant replies can be rated',
      errors: [{ field: 'message_id', message: 'must be the id of an assistant reply' }],
    });
  });

  it.each<[string, () => string, () => string, string]>([
    ['an unknown message', () => sessionId, () => UNKNOWN_ID, 'Message not found'],
    ['a malformed message id', () => sessionId, () => 'not-an-id', 'Message not found'],
    ["another session's message", () => sessionId, () => otherReply, 'Message not found'],
    ['an unknown session', () => UNKNOWN_ID, () => reply.id, 'Session not found'],
  ])('answers 404 for %s on PUT and DELETE', async (_label, session, message, detail) => {
    const put = await as(alice).put(feedbackPath(message(), session()), { rating: 'up' });
    expect(put.status).toBe(404);
    expect(put.body).toEqual({ detail });
    const del = await as(alice).delete(feedbackPath(message(), session()));
    expect(del.status).toBe(404);
    expect(del.body).toEqual({ detail });
  });

  it("answers 404 for another user's session, never touching its reply", async () => {
    await as(alice).put(feedbackPath(reply.id), { rating: 'down' }).expect(200);
    const put = await as(bob).put(feedbackPath(reply.id), { rating: 'up' });
    expect(put.status).toBe(404);
    expect(put.body).toEqual({ detail: 'Session not found' });
    expect((await as(bob).delete(feedbackPath(reply.id))).status).toBe(404);
    expect(await feedbackOf(reply.id)).toEqual({ rating: 'down', comment: null });
    await as(alice).delete(feedbackPath(reply.id)).expect(204);
  });

  it('needs a bearer token', async () => {
    expect((await request(t.url).put(feedbackPath(reply.id)).send({ rating: 'up' })).status).toBe(
      401,
    );
    expect((await request(t.url).delete(feedbackPath(reply.id))).status).toBe(401);
  });
});
