import type { Socket } from 'socket.io-client';
import request from 'supertest';
import {
  connectChatSocket,
  describeE2e,
  LoggedInUser,
  nextSocketEvent,
  openChatWs,
  registerAndLogin,
  startTestApp,
  TestApp,
} from '@app/testing';

const TOO_DEEP = { detail: 'JSON nested deeper than 32 levels' };
const JSON_ONLY = { detail: 'Content-Type must be application/json' };
const MAX_MESSAGE_CHARS = 50;
/** An astral character: one code point, two UTF-16 units. */
const EMOJI = '😀';

/** `{"message":"hi","x":[[…]]}` with arrays nested so the whole body is `depth` levels deep. */
function nestedBody(depth: number, fields = '"message":"hi"'): string {
  const arrays = depth - 1;
  return `{${fields},"x":${'['.repeat(arrays)}${']'.repeat(arrays)}}`;
}

/** The same as an object, for the socket transports (their clients serialise it). */
function nestedPayload(depth: number): Record<string, unknown> {
  let x: unknown = [];
  for (let level = 2; level < depth; level++) x = [x];
  return { message: 'hi', x };
}

const sendJson = (req: request.Test, raw: string) =>
  req.set('Content-Type', 'application/json').send(raw);

const ack = (socket: Socket, event: string, payload: unknown): Promise<Record<string, unknown>> =>
  socket.timeout(10_000).emitWithAck(event, payload);

describeE2e('bad input gets a clear 4xx, never a 500', () => {
  let t: TestApp;
  let alice: LoggedInUser;
  let sessionId: string;
  const auth = () => `Bearer ${alice.token}`;

  beforeAll(async () => {
    t = await startTestApp({ CHAT__MAX_MESSAGE_CHARS: String(MAX_MESSAGE_CHARS) });
    alice = await registerAndLogin(t.url);
    const first = await request(t.url)
      .post('/api/chat')
      .set('Authorization', auth())
      .send({ message: 'hello' })
      .expect(200);
    sessionId = first.body.session_id;
  });
  afterAll(() => t.close());

  describe('requests the HTTP parser refuses', () => {
    it('answers a URL past 16 KiB with 431 {detail}, not an empty body', async () => {
      const res = await request(t.url)
        .get(`/api/admin/users?q=${'é'.repeat(3_000)}`)
        .set('Authorization', auth());
      expect(res.status).toBe(431);
      expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
      expect(res.body).toEqual({ detail: 'Request line and headers exceed 16 KiB' });
    });
  });

  describe('JSON nested deeper than 32 levels', () => {
    /** About 4 KB: what answered 500 (stack overflow in class-transformer) before the limit. */
    const deep = nestedBody(2_000);

    it.each([
      ['POST', '/api/auth/register', false],
      ['POST', '/api/auth/login', false],
      ['POST', '/api/auth/logout', true],
      ['POST', '/api/chat', true],
      ['POST', '/api/chat/stream', true],
      ['PATCH', '/api/history/{id}', true],
    ])('%s %s answers 400 {detail} before validation', async (method, path, authed) => {
      const url = path.replace('{id}', sessionId);
      const req = method === 'PATCH' ? request(t.url).patch(url) : request(t.url).post(url);
      if (authed) req.set('Authorization', auth());
      const res = await sendJson(req, deep);
      expect(res.status).toBe(400);
      expect(res.body).toEqual(TOO_DEEP);
    });

    it('lets a body of exactly 32 levels through to validation, and refuses 33', async () => {
      const atLimit = await sendJson(request(t.url).post('/api/chat'), nestedBody(32)).set(
        'Authorization',
        auth(),
      );
      expect(atLimit.status).toBe(400);
      expect(atLimit.body).toEqual({
        detail: 'x is not an allowed field',
        errors: [{ field: 'x', message: 'x is not an allowed field' }],
      });
      const over = await sendJson(request(t.url).post('/api/chat'), nestedBody(33)).set(
        'Authorization',
        auth(),
      );
      expect(over.status).toBe(400);
      expect(over.body).toEqual(TOO_DEEP);
    });

    it('answers chat:send and chat:abort over Socket.IO with ack and chat:error 400', async () => {
      const socket = await connectChatSocket(t.url, alice.token);
      try {
        const error = nextSocketEvent(socket, 'chat:error');
        expect(await ack(socket, 'chat:send', nestedPayload(2_000))).toEqual({
          ok: false,
          ...TOO_DEEP,
          status: 400,
        });
        expect(await error).toEqual({ ...TOO_DEEP, status: 400 });
        const abort = { session_id: sessionId, x: nestedPayload(2_000).x };
        expect(await ack(socket, 'chat:abort', abort)).toEqual({
          ok: false,
          ...TOO_DEEP,
          status: 400,
        });
      } finally {
        socket.close();
      }
    });

    it('answers a WebSocket frame with an error frame 400 and keeps the connection', async () => {
      const client = await openChatWs(t.url, alice.token);
      try {
        client.send(nestedBody(2_000));
        expect(await client.next((f) => f.type === 'error')).toEqual({
          type: 'error',
          ...TOO_DEEP,
          status: 400,
        });
        client.send(`{"type":"abort","session_id":"${sessionId}","x":${nestedBody(40)}}`);
        expect(await client.next((f) => f.type === 'error')).toEqual({
          type: 'error',
          ...TOO_DEEP,
          status: 400,
        });
        client.send({ message: 'still here' });
        expect(await client.next((f) => f.type === 'done')).toMatchObject({ type: 'done' });
      } finally {
        await client.close();
      }
    });
  });

  describe('titles derived from a message', () => {
    it('leave out the control characters that a rename would refuse', async () => {
      const res = await request(t.url)
        .post('/api/chat')
        .set('Authorization', auth())
        .send({ message: '\u0007 bell\u001b rings\u0085' })
        .expect(200);
      const list = await request(t.url)
        .get('/api/history')
        .set('Authorization', auth())
        .expect(200);
      const session = list.body.items.find(
        (item: { session_id: string }) => item.session_id === res.body.session_id,
      );
      expect(session.title).toBe('bell rings');
      await request(t.url)
        .patch(`/api/history/${res.body.session_id}`)
        .set('Authorization', auth())
        .send({ title: session.title })
        .expect(200);
    });
  });

  describe('lone surrogates', () => {
    const detail = (field: string) =>
      `${field} must be valid Unicode text (it contains an unpaired surrogate)`;

    it.each([
      ['message', '/api/chat', '{"message":"hi \\ud800"}'],
      ['message', '/api/chat/stream', '{"message":"\\udc00 hi"}'],
      ['system_prompt', '/api/chat', '{"message":"hi","system_prompt":"be \\ud83d brief"}'],
    ])('in %s are refused by POST %s with 400', async (field, path, raw) => {
      const res = await sendJson(request(t.url).post(path).set('Authorization', auth()), raw);
      expect(res.status).toBe(400);
      expect(res.body).toEqual({
        detail: detail(field),
        errors: [{ field, message: detail(field) }],
      });
    });

    it('in a title are refused by PATCH with 400, and nothing is stored', async () => {
      const res = await sendJson(
        request(t.url).patch(`/api/history/${sessionId}`).set('Authorization', auth()),
        '{"title":"Trip \\ud800"}',
      );
      expect(res.status).toBe(400);
      expect(res.body).toEqual({
        detail: detail('title'),
        errors: [{ field: 'title', message: detail('title') }],
      });
      const session = await request(t.url)
        .get(`/api/history/${sessionId}`)
        .set('Authorization', auth())
        .expect(200);
      expect(session.body.title).not.toContain('\ufffd');
    });

    it('in a chat:send payload get chat:error 400', async () => {
      const socket = await connectChatSocket(t.url, alice.token);
      try {
        expect(await ack(socket, 'chat:send', { message: 'hi \ud800' })).toEqual({
          ok: false,
          detail: detail('message'),
          errors: [{ field: 'message', message: detail('message') }],
          status: 400,
        });
      } finally {
        socket.close();
      }
    });

    it('are refused like NUL, which PostgreSQL cannot store (a 500 there before)', async () => {
      const nul = await sendJson(
        request(t.url).post('/api/chat').set('Authorization', auth()),
        '{"message":"\\u0000 bell"}',
      );
      expect(nul.status).toBe(400);
      expect(nul.body).toEqual({
        detail: 'message must not contain NUL characters',
        errors: [{ field: 'message', message: 'message must not contain NUL characters' }],
      });
      const search = await request(t.url).get('/api/history?q=a%00b').set('Authorization', auth());
      expect(search.status).toBe(400);
      expect(search.body.detail).toBe('q must not contain NUL characters');
    });

    it('are not confused with well-formed astral characters', async () => {
      const res = await sendJson(
        request(t.url).post('/api/chat').set('Authorization', auth()),
        '{"message":"hi \\ud83d\\ude00"}',
      );
      expect(res.status).toBe(200);
      expect(res.body.reply).toContain(`hi ${EMOJI}`);
    });
  });

  describe('length limits count code points', () => {
    it(`accepts a message of CHAT__MAX_MESSAGE_CHARS emoji (${MAX_MESSAGE_CHARS * 2} UTF-16 units) and refuses one more`, async () => {
      await request(t.url)
        .post('/api/chat')
        .set('Authorization', auth())
        .send({ message: EMOJI.repeat(MAX_MESSAGE_CHARS) })
        .expect(200);
      const over = await request(t.url)
        .post('/api/chat')
        .set('Authorization', auth())
        .send({ message: EMOJI.repeat(MAX_MESSAGE_CHARS + 1) });
      expect(over.status).toBe(400);
      expect(over.body).toEqual({
        detail: `message must be at most ${MAX_MESSAGE_CHARS} characters`,
        errors: [{ field: 'message', message: `must be at most ${MAX_MESSAGE_CHARS} characters` }],
      });
    });

    it('counts a system prompt and a title the same way', async () => {
      const prompt = await request(t.url)
        .post('/api/chat')
        .set('Authorization', auth())
        .send({ message: 'hi', system_prompt: EMOJI.repeat(8000) });
      expect(prompt.status).toBe(200);
      const tooLong = await request(t.url)
        .post('/api/chat')
        .set('Authorization', auth())
        .send({ message: 'hi', system_prompt: EMOJI.repeat(8001) });
      expect(tooLong.status).toBe(400);
      expect(tooLong.body.detail).toBe(
        'system_prompt must be shorter than or equal to 8000 characters',
      );

      await request(t.url)
        .patch(`/api/history/${sessionId}`)
        .set('Authorization', auth())
        .send({ title: EMOJI.repeat(200) })
        .expect(200);
      const title = await request(t.url)
        .patch(`/api/history/${sessionId}`)
        .set('Authorization', auth())
        .send({ title: EMOJI.repeat(201) });
      expect(title.status).toBe(400);
      expect(title.body.detail).toBe('title must be 1 to 200 characters');
    });
  });

  describe('JSON-only routes', () => {
    it.each(['/api/chat', '/api/chat/stream'])(
      'POST %s answers a form or text body with 415',
      async (path) => {
        const form = await request(t.url)
          .post(path)
          .set('Authorization', auth())
          .type('form')
          .send('message=hi');
        expect(form.status).toBe(415);
        expect(form.body).toEqual(JSON_ONLY);
        const text = await request(t.url)
          .post(path)
          .set('Authorization', auth())
          .set('Content-Type', 'text/plain')
          .send('{"message":"hi"}');
        expect(text.status).toBe(415);
        expect(text.body).toEqual(JSON_ONLY);
      },
    );

    it('still answers a missing body with the validation 400', async () => {
      const res = await request(t.url).post('/api/chat').set('Authorization', auth());
      expect(res.status).toBe(400);
      expect(res.body.errors).toContainEqual({ field: 'message', message: expect.any(String) });
    });

    it('leaves the OAuth2 form login alone', async () => {
      const res = await request(t.url)
        .post('/api/auth/login')
        .type('form')
        .send({ username: alice.email, password: alice.password, grant_type: 'password' });
      expect(res.status).toBe(200);
      expect(res.body.access_token).toEqual(expect.any(String));
    });
  });

  describe('CORS by default: same-origin only', () => {
    it('sends no CORS headers to another origin, on requests and preflights', async () => {
      const res = await request(t.url)
        .get('/api/models')
        .set('Authorization', auth())
        .set('Origin', 'https://evil.example')
        .expect(200);
      expect(res.headers['access-control-allow-origin']).toBeUndefined();
      const preflight = await request(t.url)
        .options('/api/chat')
        .set('Origin', 'https://evil.example')
        .set('Access-Control-Request-Method', 'POST');
      expect(preflight.headers['access-control-allow-origin']).toBeUndefined();
    });

    it('lets the page origin open Socket.IO and WebSocket connections, not another', async () => {
      const socket = await connectChatSocket(t.url, alice.token, 'auth', {
        extraHeaders: { Origin: t.url },
      });
      socket.close();
      const same = await openChatWs(t.url, alice.token, { Origin: t.url });
      await same.close();
      await expect(
        openChatWs(t.url, alice.token, { Origin: 'https://evil.example' }),
      ).rejects.toMatchObject({ status: 403, body: { detail: 'Origin not allowed' } });
    });
  });
});

describeE2e('CORS_ORIGINS', () => {
  describe('a list of origins', () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await startTestApp({ CORS_ORIGINS: 'https://a.example' });
    });
    afterAll(() => t.close());

    it('allows the listed origin, with credentials, and no other', async () => {
      const allowed = await request(t.url)
        .options('/api/chat')
        .set('Origin', 'https://a.example')
        .set('Access-Control-Request-Method', 'POST')
        .set('Access-Control-Request-Headers', 'authorization,content-type');
      expect(allowed.status).toBe(204);
      expect(allowed.headers['access-control-allow-origin']).toBe('https://a.example');
      expect(allowed.headers['access-control-allow-credentials']).toBe('true');
      const other = await request(t.url)
        .get('/health/live')
        .set('Origin', 'https://b.example')
        .expect(200);
      expect(other.headers['access-control-allow-origin']).toBeUndefined();
    });

    it('checks WebSocket origins against the list', async () => {
      const user = await registerAndLogin(t.url);
      const client = await openChatWs(t.url, user.token, { Origin: 'https://a.example' });
      await client.close();
      await expect(
        openChatWs(t.url, user.token, { Origin: 'https://b.example' }),
      ).rejects.toMatchObject({ status: 403 });
    });
  });

  describe('*', () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await startTestApp({ CORS_ORIGINS: '*' });
    });
    afterAll(() => t.close());

    it('allows any origin, without credentials', async () => {
      const res = await request(t.url)
        .get('/health/live')
        .set('Origin', 'https://any.example')
        .expect(200);
      expect(res.headers['access-control-allow-origin']).toBe('https://any.example');
      expect(res.headers['access-control-allow-credentials']).toBeUndefined();
      const user = await registerAndLogin(t.url);
      const client = await openChatWs(t.url, user.token, { Origin: 'https://any.example' });
      await client.close();
    });
  });
});
