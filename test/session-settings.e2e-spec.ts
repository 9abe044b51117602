import request from 'supertest';
import {
  describeE2e,
  LoggedInUser,
  ProviderSimulator,
  registerAndLogin,
  startAppWithSimulator,
  type AppWithSimulator,
} from '@app/testing';

/** Per-conversation settings: set by the first chat request or PATCH, overridden per turn. */
describeE2e('history: per-session settings', () => {
  let t: AppWithSimulator;
  let sim: ProviderSimulator;
  let alice: LoggedInUser;
  let bob: LoggedInUser;

  const as = (user: LoggedInUser) => ({
    chat: (body: object) =>
      request(t.url).post('/api/chat').set('Authorization', `Bearer ${user.token}`).send(body),
    patch: (sessionId: string, body: unknown) =>
      request(t.url)
        .patch(`/api/history/${sessionId}`)
        .set('Authorization', `Bearer ${user.token}`)
        .send(body as object),
    settings: async (sessionId: string) =>
      (
        await request(t.url)
          .get(`/api/history/${sessionId}`)
          .set('Authorization', `Bearer ${user.token}`)
          .expect(200)
      ).body.settings,
  });
  const upstream = () => sim.lastChatSettings();

  beforeAll(async () => {
    t = await startAppWithSimulator();
    sim = t.sim;
    [alice, bob] = await Promise.all([registerAndLogin(t.url), registerAndLogin(t.url)]);
  });
  afterAll(async () => {
    await t?.close();
  });

  it("keeps the first request's settings for the session; a request's own values count for its turn only", async () => {
    const first = await as(alice)
      .chat({ message: 'one', system_prompt: 'Be terse.', temperature: 0.2, max_tokens: 100 })
      .expect(200);
    const sessionId = first.body.session_id as string;
    expect(await as(alice).settings(sessionId)).toEqual({
      system_prompt: 'Be terse.',
      model: null,
      temperature: 0.2,
      max_tokens: 100,
    });

    await as(alice).chat({ message: 'two', session_id: sessionId }).expect(200);
    expect(upstream()).toEqual({
      model: 'llama-3.1-8b-instant',
      temperature: 0.2,
      max_tokens: 100,
      system: 'Be terse.',
    });

    await as(alice)
      .chat({
        message: 'three',
        session_id: sessionId,
        temperature: 1.5,
        system_prompt: 'Be wordy.',
      })
      .expect(200);
    expect(upstream()).toMatchObject({ temperature: 1.5, system: 'Be wordy.' });

    await as(alice).chat({ message: 'four', session_id: sessionId }).expect(200);
    expect(upstream()).toMatchObject({ temperature: 0.2, system: 'Be terse.' });
    expect((await as(alice).settings(sessionId)).temperature).toBe(0.2);
  });

  it('changes settings with PATCH (null clears one) for the next turns', async () => {
    const sessionId = (await as(alice).chat({ message: 'start' }).expect(200)).body.session_id;
    const res = await as(alice)
      .patch(sessionId, {
        system_prompt: 'Answer in French.',
        model: 'groq/llama-3.3-70b-versatile',
        temperature: 0.9,
      })
      .expect(200);
    expect(res.body.session_id).toBe(sessionId);
    await as(alice).chat({ message: 'next', session_id: sessionId }).expect(200);
    expect(upstream()).toMatchObject({
      model: 'llama-3.3-70b-versatile',
      temperature: 0.9,
      system: 'Answer in French.',
    });

    await as(alice).patch(sessionId, { system_prompt: null, temperature: null }).expect(200);
    expect(await as(alice).settings(sessionId)).toEqual({
      system_prompt: null,
      model: 'groq/llama-3.3-70b-versatile',
      temperature: null,
      max_tokens: null,
    });
    await as(alice).chat({ message: 'plain', session_id: sessionId }).expect(200);
    expect(upstream()).toMatchObject({ model: 'llama-3.3-70b-versatile', system: undefined });
    expect(upstream().temperature).toBeUndefined();
  });

  describe('refuses bad settings, changing nothing', () => {
    let sessionId: string;
    beforeAll(async () => {
      sessionId = (await as(alice).chat({ message: 'bad settings', temperature: 0.5 }).expect(200))
        .body.session_id;
    });

    it.each<[string, object, string]>([
      ['an unknown model', { model: 'nope/nothing' }, 'model'],
      ['an empty model', { model: '' }, 'model'],
      ['a temperature over 2', { temperature: 2.5 }, 'temperature'],
      ['a string temperature', { temperature: '0.5' }, 'temperature'],
      ['max_tokens 0', { max_tokens: 0 }, 'max_tokens'],
      ['a fractional max_tokens', { max_tokens: 1.5 }, 'max_tokens'],
      ['a system prompt too long', { system_prompt: 'x'.repeat(8001) }, 'system_prompt'],
      ['a numeric system prompt', { system_prompt: 7 }, 'system_prompt'],
    ])('%s → 400', async (_label, body, field) => {
      const res = await as(alice).patch(sessionId, body);
      expect(res.status).toBe(400);
      expect(res.body).toEqual({
        detail: expect.any(String),
        errors: expect.arrayContaining([expect.objectContaining({ field })]),
      });
      expect(await as(alice).settings(sessionId)).toEqual({
        system_prompt: null,
        model: null,
        temperature: 0.5,
        max_tokens: null,
      });
    });

    it("another user's session → 404", async () => {
      const res = await as(bob).patch(sessionId, { temperature: 1 });
      expect(res.status).toBe(404);
      expect(res.body).toEqual({ detail: 'Session not found' });
      expect((await as(alice).settings(sessionId)).temperature).toBe(0.5);
    });
  });
});
