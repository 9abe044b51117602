import request from 'supertest';
import {
  describeE2e,
  LoggedInUser,
  ProviderSimulator,
  registerAndLogin,
  startAppWithSimulator,
  type AppWithSimulator,
} from '@app/testing';

const UNKNOWN_ID = '00000000-0000-4000-8000-000000000000';
const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/** /api/presets CRUD, and `preset_id` on chat requests and on sessions. */
describeE2e('presets', () => {
  let t: AppWithSimulator;
  let sim: ProviderSimulator;
  let alice: LoggedInUser;
  let bob: LoggedInUser;

  const as = (user: LoggedInUser) => {
    const auth = { Authorization: `Bearer ${user.token}` };
    return {
      get: (path: string) => request(t.url).get(path).set(auth),
      post: (path: string, body: unknown) =>
        request(t.url)
          .post(path)
          .set(auth)
          .send(body as object),
      patch: (path: string, body: unknown) =>
        request(t.url)
          .patch(path)
          .set(auth)
          .send(body as object),
      delete: (path: string) => request(t.url).delete(path).set(auth),
    };
  };
  const upstream = () => {
    const last = sim.requests.at(-1)!;
    const system = last.messages?.find((m: { role: string }) => m.role === 'system');
    return {
      model: last.model,
      temperature: (last.body as { temperature?: number }).temperature,
      system: system ? String(system.content) : undefined,
    };
  };

  beforeAll(async () => {
    t = await startAppWithSimulator({
      RATE_LIMIT__DEFAULT_PER_MINUTE: '10000',
    });
    sim = t.sim;
    [alice, bob] = await Promise.all([registerAndLogin(t.url), registerAndLogin(t.url)]);
  });
  afterAll(async () => {
    await t?.close();
  });

  it('creates, lists, reads, changes and deletes a preset', async () => {
    const created = await as(alice)
      .post('/api/presets', {
        name: '  Terse French ',
        system_prompt: 'Answer in French, briefly.',
        model: 'groq/llama-3.3-70b-versatile',
        temperature: 0.3,
      })
      .expect(201);
    expect(created.body).toEqual({
      id: expect.any(String),
      name: 'Terse French',
      system_prompt: 'Answer in French, briefly.',
      model: 'groq/llama-3.3-70b-versatile',
      temperature: 0.3,
      max_tokens: null,
      created_at: expect.stringMatching(ISO_UTC),
      updated_at: expect.stringMatching(ISO_UTC),
    });
    const id = created.body.id as string;
    expect((await as(alice).get('/api/presets').expect(200)).body.items).toEqual([created.body]);
    expect((await as(alice).get(`/api/presets/${id}`).expect(200)).body).toEqual(created.body);

    const changed = await as(alice)
      .patch(`/api/presets/${id}`, { name: 'Terse', temperature: null, max_tokens: 200 })
      .expect(200);
    expect(changed.body).toMatchObject({
      name: 'Terse',
      system_prompt: 'Answer in French, briefly.',
      temperature: null,
      max_tokens: 200,
    });

    await as(alice).delete(`/api/presets/${id}`).expect(204);
    expect((await as(alice).get(`/api/presets/${id}`)).status).toBe(404);
    expect((await as(alice).get('/api/presets').expect(200)).body.items).toEqual([]);
  });

  it('applies preset_id to a chat turn and to a new session, the request winning', async () => {
    const preset = (
      await as(alice)
        .post('/api/presets', {
          name: 'Pirate',
          system_prompt: 'Talk like a pirate.',
          temperature: 1.1,
        })
        .expect(201)
    ).body;
    const first = await as(alice)
      .post('/api/chat', { message: 'Hello', preset_id: preset.id, temperature: 0.5 })
      .expect(200);
    expect(upstream()).toEqual({
      model: 'llama-3.1-8b-instant',
      temperature: 0.5,
      system: 'Talk like a pirate.',
    });
    const settings = (await as(alice).get(`/api/history/${first.body.session_id}`).expect(200)).body
      .settings;
    expect(settings).toEqual({
      system_prompt: 'Talk like a pirate.',
      model: null,
      temperature: 0.5,
      max_tokens: null,
    });
  });

  it("PATCH a session with preset_id: the preset's settings replace the session's", async () => {
    const preset = (
      await as(alice)
        .post('/api/presets', {
          name: 'Careful',
          system_prompt: 'Double-check facts.',
          max_tokens: 300,
        })
        .expect(201)
    ).body;
    const sessionId = (
      await as(alice).post('/api/chat', { message: 'Hi', temperature: 0.9 }).expect(200)
    ).body.session_id;
    await as(alice).patch(`/api/history/${sessionId}`, { preset_id: preset.id }).expect(200);
    expect((await as(alice).get(`/api/history/${sessionId}`).expect(200)).body.settings).toEqual({
      system_prompt: 'Double-check facts.',
      model: null,
      temperature: null,
      max_tokens: 300,
    });
    await as(alice).post('/api/chat', { message: 'Next', session_id: sessionId }).expect(200);
    expect(upstream()).toMatchObject({ system: 'Double-check facts.', temperature: undefined });
    // Deleting the preset leaves the session's settings as they are.
    await as(alice).delete(`/api/presets/${preset.id}`).expect(204);
    expect(
      (await as(alice).get(`/api/history/${sessionId}`).expect(200)).body.settings.system_prompt,
    ).toBe('Double-check facts.');
  });

  describe('refuses', () => {
    let presetId: string;
    beforeAll(async () => {
      presetId = (
        await as(alice).post('/api/presets', { name: 'Mine', temperature: 0.2 }).expect(201)
      ).body.id;
    });

    it.each<[string, unknown, string]>([
      ['no name', { temperature: 1 }, 'name'],
      ['an empty name', { name: '   ' }, 'name'],
      ['a long name', { name: 'x'.repeat(101) }, 'name'],
      ['a multi-line name', { name: 'a\nb' }, 'name'],
      ['an unknown model', { name: 'x', model: 'nope/none' }, 'model'],
      ['a temperature over 2', { name: 'x', temperature: 3 }, 'temperature'],
      ['max_tokens 0', { name: 'x', max_tokens: 0 }, 'max_tokens'],
      ['a long system prompt', { name: 'x', system_prompt: 'x'.repeat(8001) }, 'system_prompt'],
      ['an unknown field', { name: 'x', color: 'red' }, 'color'],
    ])('POST with %s → 400', async (_label, body, field) => {
      const before = (await as(alice).get('/api/presets').expect(200)).body.items.length;
      const res = await as(alice).post('/api/presets', body);
      expect(res.status).toBe(400);
      expect(res.body).toEqual({
        detail: expect.any(String),
        errors: expect.arrayContaining([expect.objectContaining({ field })]),
      });
      expect((await as(alice).get('/api/presets').expect(200)).body.items).toHaveLength(before);
    });

    it.each<[string, unknown, string]>([
      ['a numeric name', { name: 42 }, 'name'],
      ['an unknown model', { model: 'nope/none' }, 'model'],
      ['a string temperature', { temperature: '1' }, 'temperature'],
    ])('PATCH with %s → 400, unchanged', async (_label, body, field) => {
      const res = await as(alice).patch(`/api/presets/${presetId}`, body);
      expect(res.status).toBe(400);
      expect(res.body.errors).toEqual(expect.arrayContaining([expect.objectContaining({ field })]));
      expect((await as(alice).get(`/api/presets/${presetId}`).expect(200)).body).toMatchObject({
        name: 'Mine',
        temperature: 0.2,
      });
    });

    it("another user's, an unknown or a malformed preset → 404 everywhere", async () => {
      for (const id of [presetId, UNKNOWN_ID, 'not-an-id']) {
        const user = id === presetId ? bob : alice;
        for (const res of [
          await as(user).get(`/api/presets/${id}`),
          await as(user).patch(`/api/presets/${id}`, { name: 'stolen' }),
          await as(user).delete(`/api/presets/${id}`),
          await as(user).post('/api/chat', { message: 'hi', preset_id: id }),
        ]) {
          expect(res.status).toBe(404);
          expect(res.body).toEqual({ detail: 'Preset not found' });
        }
      }
      const session = (await as(bob).post('/api/chat', { message: 'mine' }).expect(200)).body;
      const res = await as(bob).patch(`/api/history/${session.session_id}`, {
        preset_id: presetId,
      });
      expect(res.status).toBe(404);
      expect(res.body).toEqual({ detail: 'Preset not found' });
      expect((await as(bob).get('/api/presets').expect(200)).body.items).toEqual([]);
      expect((await as(alice).get(`/api/presets/${presetId}`).expect(200)).body.name).toBe('Mine');
    });

    it('a 101st preset → 409', async () => {
      const carol = await registerAndLogin(t.url);
      for (let i = 0; i < 100; i++) {
        await as(carol)
          .post('/api/presets', { name: `p${i}` })
          .expect(201);
      }
      const res = await as(carol).post('/api/presets', { name: 'one too many' });
      expect(res.status).toBe(409);
      expect(res.body).toEqual({ detail: 'At most 100 presets per user' });
    });

    it('needs a bearer token', async () => {
      expect((await request(t.url).get('/api/presets')).status).toBe(401);
      expect((await request(t.url).post('/api/presets').send({ name: 'x' })).status).toBe(401);
    });
  });
});
