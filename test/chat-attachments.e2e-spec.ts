/* eslint-disable @typescript-eslint/no-explicit-any -- upstream request bodies are inspected as parsed JSON */
import request from 'supertest';
import {
  connectChatSocket,
  describeE2e,
  type LoggedInUser,
  nextSocketEvent,
  openChatWs,
  postSse,
  ProviderSimulator,
  registerAndLogin,
  startTestApp,
  type TestApp,
} from '@app/testing';
import { PDF_BYTES, PNG_1X1, uploadedFileId } from './factories/file.factory';

const OPENAI = 'openai/gpt-4o-mini';
const GEMINI = 'gemini/gemini-2.0-flash';
const CLAUDE = 'anthropic/claude-sonnet-4-6';
const TEXT_ONLY = 'groq/llama-3.1-8b-instant';
const PNG_DATA_URL = `data:image/png;base64,${PNG_1X1.toString('base64')}`;

/**
 * Chat `attachments` end to end against the provider simulator: images and PDFs reach each API
 * in its own wire format, text files are inlined, models that cannot read a file answer 400,
 * history keeps the references, and session deletion takes unshared files with it.
 */
describeE2e('chat attachments (simulator)', () => {
  let t: TestApp;
  let sim: ProviderSimulator;
  let alice: LoggedInUser;
  let bob: LoggedInUser;
  let image: string;
  const chat = (user: LoggedInUser, body: object) =>
    request(t.url).post('/api/chat').set('Authorization', `Bearer ${user.token}`).send(body);
  const lastUpstream = () => sim.requests.at(-1)!;
  const lastOpenAiContent = () => (lastUpstream().body as any).messages.at(-1).content;

  beforeAll(async () => {
    sim = new ProviderSimulator();
    const url = await sim.start();
    t = await startTestApp({
      AI_SERVICES__OPENAI_API_KEY: 'sim-openai-key',
      AI_SERVICES__OPENAI_BASE_URL: url,
      AI_SERVICES__GEMINI_API_KEY: 'sim-gemini-key',
      AI_SERVICES__GEMINI_BASE_URL: url,
      AI_SERVICES__ANTHROPIC_API_KEY: 'sim-anthropic-key',
      AI_SERVICES__ANTHROPIC_BASE_URL: url,
      AI_SERVICES__GROQ_API_KEY: 'sim-groq-key',
      AI_SERVICES__GROQ_BASE_URL: url,
      AI_SERVICES__DEFAULT_MODEL: OPENAI,
      AI_SERVICES__MAX_RETRIES: '0',
      AI_SERVICES__BREAKER_THRESHOLD: '1000',
      SHUTDOWN_GRACE_MS: '0',
      RATE_LIMIT__AUTH_PER_MINUTE: '1000',
    });
    alice = await registerAndLogin(t.url);
    bob = await registerAndLogin(t.url);
    image = await uploadedFileId(t, alice.token, 'pixel.png', PNG_1X1);
  });
  afterEach(() => sim.reset());
  afterAll(async () => {
    await t?.close();
    await sim?.stop();
  });

  it('sends an image to an OpenAI model as an image_url data URL after the text', async () => {
    const reply = await chat(alice, { message: 'what is this?', attachments: [image] }).expect(200);
    expect(reply.body.reply).toBe('Simulated reply to: what is this?');
    expect(lastUpstream().model).toBe('gpt-4o-mini');
    expect(lastOpenAiContent()).toEqual([
      { type: 'text', text: 'what is this?' },
      { type: 'image_url', image_url: { url: PNG_DATA_URL } },
    ]);
  });

  it('sends an image and a PDF to Gemini as inlineData parts', async () => {
    const pdf = await uploadedFileId(t, alice.token, 'paper.pdf', PDF_BYTES);
    await chat(alice, { message: 'compare', model: GEMINI, attachments: [image, pdf] }).expect(200);
    const upstream = lastUpstream();
    expect(upstream.api).toBe('gemini');
    expect((upstream.body as any).contents.at(-1)).toEqual({
      role: 'user',
      parts: [
        { text: 'compare' },
        { inlineData: { mimeType: 'image/png', data: PNG_1X1.toString('base64') } },
        { inlineData: { mimeType: 'application/pdf', data: PDF_BYTES.toString('base64') } },
      ],
    });
  });

  it('sends an image and a PDF to Anthropic as base64 image and document blocks', async () => {
    const pdf = await uploadedFileId(t, alice.token, 'paper.pdf', PDF_BYTES);
    await chat(alice, { message: 'compare', model: CLAUDE, attachments: [image, pdf] }).expect(200);
    const upstream = lastUpstream();
    expect(upstream.api).toBe('anthropic');
    expect((upstream.body as any).messages.at(-1)).toEqual({
      role: 'user',
      content: [
        { type: 'text', text: 'compare' },
        {
          type: 'image',
          source: { type: 'base64', media_type: 'image/png', data: PNG_1X1.toString('base64') },
        },
        {
          type: 'document',
          source: {
            type: 'base64',
            media_type: 'application/pdf',
            data: PDF_BYTES.toString('base64'),
          },
          title: 'paper.pdf',
        },
      ],
    });
  });

  it('sends a PDF to an OpenAI model as a file part', async () => {
    const pdf = await uploadedFileId(t, alice.token, 'paper.pdf', PDF_BYTES);
    await chat(alice, { message: 'summarise', attachments: [pdf] }).expect(200);
    expect(lastOpenAiContent()[1]).toEqual({
      type: 'file',
      file: {
        filename: 'paper.pdf',
        file_data: `data:application/pdf;base64,${PDF_BYTES.toString('base64')}`,
      },
    });
  });

  it('refuses a PDF or an image for a text-only model with 400 naming the models that can', async () => {
    const pdf = await uploadedFileId(t, alice.token, 'paper.pdf', PDF_BYTES);
    const refused = await chat(alice, {
      message: 'read this',
      model: TEXT_ONLY,
      attachments: [pdf],
    }).expect(400);
    expect(refused.body.detail).toMatch(
      new RegExp(`^Model ${TEXT_ONLY} cannot read PDF files \\(paper\\.pdf\\); models that can: `),
    );
    expect(refused.body.detail).toContain(OPENAI);
    expect(refused.body.detail).toContain(GEMINI);
    expect(refused.body.errors).toEqual([
      { field: 'attachments', message: `${TEXT_ONLY} cannot read PDF files` },
    ]);
    const noImage = await chat(alice, { message: 'see', model: TEXT_ONLY, attachments: [image] });
    expect(noImage.status).toBe(400);
    expect(noImage.body.detail).toMatch(/cannot read images \(pixel\.png\)/);
    expect(sim.requests).toHaveLength(0);
  });

  it('inlines a text file with its name for any model', async () => {
    const notes = await uploadedFileId(t, alice.token, 'notes.md', Buffer.from('# Plan\n- ship'));
    await chat(alice, { message: 'use my notes', model: TEXT_ONLY, attachments: [notes] }).expect(
      200,
    );
    expect(lastUpstream().messages.at(-1)).toEqual({
      role: 'user',
      content:
        'use my notes\n\n<file name="notes.md" type="text/markdown">\n# Plan\n- ship\n</file>',
    });
  });

  it('stores the references on the user message, returns them, and resends them in later turns', async () => {
    const first = await chat(alice, { message: 'look', attachments: [image] }).expect(200);
    const sessionId = first.body.session_id;
    const session = await request(t.url)
      .get(`/api/history/${sessionId}`)
      .set('Authorization', `Bearer ${alice.token}`)
      .expect(200);
    expect(session.body.messages.map((m: any) => [m.role, m.attachments])).toEqual([
      ['user', [{ id: image, name: 'pixel.png', media_type: 'image/png' }]],
      ['assistant', []],
    ]);

    await chat(alice, { message: 'and now?', session_id: sessionId }).expect(200);
    const messages = (lastUpstream().body as any).messages;
    expect(messages[0].content).toEqual([
      { type: 'text', text: 'look' },
      { type: 'image_url', image_url: { url: PNG_DATA_URL } },
    ]);
    expect(messages.at(-1)).toEqual({ role: 'user', content: 'and now?' });

    // Continued with a text-only model, the earlier image becomes a note instead of a 400.
    await chat(alice, { message: 'text only', session_id: sessionId, model: TEXT_ONLY }).expect(
      200,
    );
    expect(lastUpstream().messages[0].content).toBe(
      'look\n\n[Attached image "pixel.png" omitted: this model cannot read it]',
    );
  });

  it("answers 404 for another user's file or an unknown id, and 400 for bad attachment lists", async () => {
    const bobs = await uploadedFileId(t, bob.token, 'bob.png', PNG_1X1);
    for (const attachments of [[bobs], ['00000000-0000-4000-8000-000000000000'], ['nope']]) {
      const response = await chat(alice, { message: 'hi', attachments }).expect(404);
      expect(response.body).toEqual({ detail: 'File not found' });
    }
    const cases: [unknown, string][] = [
      [[image, image], 'attachments must not repeat a file'],
      [Array.from({ length: 11 }, (_, i) => `id-${i}`), 'attachments must have at most 10 files'],
      ['not-a-list', 'attachments must be an array'],
      [[42], 'attachments must be file ids (strings)'],
    ];
    for (const [attachments, detail] of cases) {
      const response = await chat(alice, { message: 'hi', attachments });
      expect(response.status).toBe(400);
      expect(response.body.detail).toContain(detail);
    }
    expect(sim.requests).toHaveLength(0);
  });

  it('takes attachments over SSE, Socket.IO and the plain WebSocket too', async () => {
    const stream = await postSse(
      t.url,
      '/api/chat/stream',
      { message: 'over sse', attachments: [image] },
      { token: alice.token },
    );
    await stream.finished;
    expect(lastOpenAiContent()[1]).toEqual({ type: 'image_url', image_url: { url: PNG_DATA_URL } });

    const socket = await connectChatSocket(t.url, alice.token);
    try {
      const done = nextSocketEvent(socket, 'chat:done');
      const ack = await socket.timeout(10_000).emitWithAck('chat:send', {
        message: 'over socket.io',
        model: GEMINI,
        attachments: [image],
      });
      expect(ack).toMatchObject({ ok: true });
      await done;
      expect((lastUpstream().body as any).contents.at(-1).parts[1]).toEqual({
        inlineData: { mimeType: 'image/png', data: PNG_1X1.toString('base64') },
      });
    } finally {
      socket.close();
    }

    const ws = await openChatWs(t.url, alice.token);
    try {
      ws.send({ message: 'over ws', attachments: [image] });
      await ws.next((frame) => frame.type === 'done');
      expect(lastOpenAiContent()).toEqual([
        { type: 'text', text: 'over ws' },
        { type: 'image_url', image_url: { url: PNG_DATA_URL } },
      ]);
      ws.send({ message: 'not mine', attachments: ['00000000-0000-4000-8000-000000000000'] });
      expect(await ws.next((frame) => frame.type === 'error')).toMatchObject({
        status: 404,
        detail: 'File not found',
      });
    } finally {
      await ws.close();
    }
  });

  it('deletes the files of a deleted session unless another session uses them', async () => {
    const onlyHere = await uploadedFileId(t, alice.token, 'only.png', PNG_1X1);
    const shared = await uploadedFileId(t, alice.token, 'shared.md', Buffer.from('shared'));
    const doomed = await chat(alice, { message: 'one', attachments: [onlyHere, shared] }).expect(
      200,
    );
    await chat(alice, { message: 'two', attachments: [shared] }).expect(200);

    await request(t.url)
      .delete(`/api/history/${doomed.body.session_id}`)
      .set('Authorization', `Bearer ${alice.token}`)
      .expect(204);

    const file = (id: string) =>
      request(t.url).get(`/api/files/${id}`).set('Authorization', `Bearer ${alice.token}`);
    expect((await file(onlyHere)).status).toBe(404);
    expect((await file(shared)).status).toBe(200);
    expect((await file(image)).status).toBe(200);
  });

  it('regenerates with the attachments of the original message, and refuses new ones', async () => {
    const first = await chat(alice, { message: 'describe', attachments: [image] }).expect(200);
    const again = await chat(alice, {
      session_id: first.body.session_id,
      regenerate_of: first.body.message_id,
    }).expect(200);
    expect(again.body.reply).toBe('Simulated reply to: describe');
    expect(lastOpenAiContent()[1]).toEqual({ type: 'image_url', image_url: { url: PNG_DATA_URL } });
    const refused = await chat(alice, {
      session_id: first.body.session_id,
      regenerate_of: first.body.message_id,
      attachments: [image],
    }).expect(400);
    expect(refused.body.detail).toBe(
      'attachments must be absent with regenerate_of (the reply sees the original ones)',
    );
  });
});
