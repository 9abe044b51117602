import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import request from 'supertest';
import { startTestApp, TestApp } from '@app/testing';
import {
  ARTIFACTS,
  boxInViewport,
  describeBrowser,
  launchBrowser,
  pageWidth,
  PHONE,
  TOKENS_KEY,
  watchForProblems,
} from './browser-harness';
import { ensureWebClientBuilt } from './web-build';
import { PNG_1X1 } from './factories/file.factory';
import { HistoryStore } from '../src/history/history-store.interface';

/** Samples the newest reply's text length in the page until it stops being `pending`. */
function sampleReplyGrowth(page: Page): Promise<number[]> {
  return page.evaluate(
    () =>
      new Promise<number[]>((resolve) => {
        const seen: number[] = [];
        const timer = setInterval(() => {
          const bubbles = document.querySelectorAll('.msg.assistant');
          const last = bubbles[bubbles.length - 1];
          if (!last) return;
          const length = last.querySelector('.content')?.textContent?.length ?? 0;
          if (seen[seen.length - 1] !== length) seen.push(length);
          if (last.getAttribute('data-status') !== 'pending') {
            clearInterval(timer);
            resolve(seen);
          }
        }, 10);
      }),
  );
}

/**
 * The browser chat page and Swagger UI driven in Debian's chromium (playwright-core): register,
 * log in, a reply streamed token by token, Stop, reload, history, logout; /docs with Authorize;
 * then the page on a phone (390×844): no horizontal scroll with a 200-character title, rename,
 * delete with confirmation. Screenshots go to artifacts/. Runs once, in the SQLite project.
 */
describeBrowser('browser chat page and Swagger UI in chromium', () => {
  jest.setTimeout(120_000);

  let t: TestApp;
  let browser: Awaited<ReturnType<typeof launchBrowser>>;
  let page: Page;
  const problems: string[] = [];
  const email = `browser-${Date.now()}@example.com`;
  const password = 'a long browser passphrase';

  const shot = (name: string) =>
    page.screenshot({ path: join(ARTIFACTS, `browser-${name}.png`), fullPage: true });
  const lastReply = () => page.locator('.msg.assistant').last();
  /** GET /api/history (first page) as the user of `token`. */
  const historyOf = async (token: string) =>
    (await request(t.url).get('/api/history').set('Authorization', `Bearer ${token}`).expect(200))
      .body as { total: number; items: { session_id: string; title: string }[] };
  const accessToken = async () =>
    page.evaluate(
      (key) =>
        (JSON.parse(localStorage.getItem(key) ?? 'null') as { access_token: string })?.access_token,
      TOKENS_KEY,
    );

  beforeAll(async () => {
    ensureWebClientBuilt();
    mkdirSync(ARTIFACTS, { recursive: true });
    // 30 ms between words: a reply visibly streams, and a long one can be stopped half-way.
    t = await startTestApp({ AI_SERVICES__LOCAL_DELAY_MS: '30' });
    browser = await launchBrowser({ viewport: { width: 1200, height: 800 } });
    page = browser.page;
    watchForProblems(page, problems);
  });

  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });

  it('shows the sign-in form and reports bad credentials', async () => {
    await page.goto(`${t.url}/`);
    await page.locator('#auth-view').waitFor({ state: 'visible' });
    await page.fill('#email', 'nobody@example.com');
    await page.fill('#password', 'wrong password 123');
    await page.click('#login-btn');
    await page.locator('#auth-error').waitFor({ state: 'visible' });
    expect(await page.textContent('#auth-error')).toMatch(/\S/);
    await shot('1-sign-in');
  });

  it('registers, signs in and connects the socket', async () => {
    await page.fill('#email', email);
    await page.fill('#password', password);
    await page.click('#register-btn');
    await page.locator('#chat-view').waitFor({ state: 'visible' });
    expect(await page.textContent('#user-email')).toBe(email);
    await page.locator('#connection[data-state="online"]').waitFor();

    const models = await request(t.url)
      .get('/api/models')
      .set('Authorization', `Bearer ${await accessToken()}`)
      .expect(200);
    const options = await page
      .locator('#model option')
      .evaluateAll((nodes) => nodes.map((node) => (node as HTMLOptionElement).value));
    expect(options).toEqual(models.body.items.map((item: { id: string }) => item.id));
    const defaultModel = models.body.items.find((item: { default: boolean }) => item.default).id;
    expect(await page.inputValue('#model')).toBe(defaultModel);

    expect(await page.locator('#sessions-empty').isVisible()).toBe(true);
    expect(await page.textContent('#sessions-empty')).toBe('No conversations yet');
  });

  it('streams a reply token by token and renders its Markdown safely', async () => {
    await page.fill('#input', 'Hello **world** and `code` <img src=x onerror="window.__xss=1">');
    await page.press('#input', 'Enter');
    expect(await page.locator('#stop').isVisible()).toBe(true);
    const samples = await sampleReplyGrowth(page);

    // The text grew over several samples before the reply finished: it really streamed.
    const growing = samples.filter((length) => length > 0);
    expect(growing.length).toBeGreaterThanOrEqual(3);
    expect(growing).toEqual([...growing].sort((a, b) => a - b));

    const reply = lastReply();
    expect(await reply.getAttribute('data-status')).toBe('complete');
    expect(await reply.locator('.content').textContent()).toContain('You said');
    expect(await reply.locator('.content strong').first().textContent()).toBe('world');
    expect(await reply.locator('.content code').first().textContent()).toBe('code');
    // The <img> in the model's text is shown as text, never created as an element.
    expect(await page.locator('.messages img').count()).toBe(0);
    expect(await reply.locator('.content').textContent()).toContain('<img src=x');
    expect(await page.evaluate(() => (window as { __xss?: number }).__xss)).toBeUndefined();
    expect(await page.locator('.msg.user').last().textContent()).toContain('**world**');
    expect(await page.locator('#send').isVisible()).toBe(true);

    await page.locator('#session-list .session').first().waitFor();
    expect(await page.locator('#session-list .session').count()).toBe(1);
    expect(await page.locator('#sessions-empty').isVisible()).toBe(false);
    await shot('2-streamed-reply');
  });

  it('stops a long reply with the Stop button and stores it as aborted', async () => {
    const words = Array.from({ length: 150 }, (_, i) => `word${i}`).join(' ');
    await page.fill('#input', `Please repeat: ${words}`);
    await page.press('#input', 'Enter');
    await page.waitForFunction(() => {
      const bubbles = document.querySelectorAll('.msg.assistant .content');
      return (bubbles[bubbles.length - 1]?.textContent?.length ?? 0) > 20;
    });
    await page.click('#stop');
    await page.locator('.msg.assistant[data-status="aborted"]').last().waitFor();
    const partial = (await lastReply().locator('.content').textContent()) ?? '';
    expect(partial.length).toBeGreaterThan(20);
    expect(partial).not.toContain('word149');
    expect(await lastReply().locator('.meta').textContent()).toContain('stopped');
    await shot('3-stopped');

    const token = await accessToken();
    const list = await historyOf(token);
    expect(list.total).toBe(1);
    const sessionId = list.items[0].session_id;
    const detail = await request(t.url)
      .get(`/api/history/${sessionId}`)
      .set('Authorization', `Bearer ${token}`)
      .expect(200);
    const messages = detail.body.messages as { role: string; status: string; content: string }[];
    expect(messages.map((m) => [m.role, m.status])).toEqual([
      ['user', 'complete'],
      ['assistant', 'complete'],
      ['user', 'complete'],
      ['assistant', 'aborted'],
    ]);
    expect(messages[3].content.length).toBeGreaterThan(0);
    expect(partial.startsWith(messages[3].content.slice(0, 20))).toBe(true);
  });

  it('reopens the last conversation after a reload; after New chat a reload stays blank', async () => {
    const conversation = [
      'msg user:complete',
      'msg assistant:complete',
      'msg user:complete',
      'msg assistant:aborted',
    ];
    const shownMessages = () =>
      page
        .locator('.msg')
        .evaluateAll((nodes) =>
          nodes.map((node) => `${node.className}:${node.getAttribute('data-status')}`),
        );

    await page.reload();
    await page.locator('#chat-view').waitFor({ state: 'visible' });
    await page.locator('.msg').nth(3).waitFor();
    expect(await shownMessages()).toEqual(conversation);
    expect(await page.locator('.msg.assistant .content strong').first().textContent()).toBe(
      'world',
    );
    await page.locator('#session-list .session.active').waitFor();
    await shot('4-reopened');

    await page.click('#new-chat');
    expect(await page.locator('.msg').count()).toBe(0);
    await page.reload();
    await page.locator('#session-list .session').first().waitFor();
    expect(await page.locator('.msg').count()).toBe(0);
    expect(await page.locator('#session-list .session.active').count()).toBe(0);

    await page.locator('#session-list .session-open').first().click();
    await page.locator('.msg').nth(3).waitFor();
    expect(await shownMessages()).toEqual(conversation);
  });

  it('starts a blank chat, without an error, when the remembered conversation is gone', async () => {
    // A second conversation, opened last, then deleted behind the page's back.
    await page.click('#new-chat');
    await page.fill('#input', 'A conversation that another tab deletes');
    await page.press('#input', 'Enter');
    await page.locator('.msg.assistant[data-status="complete"]').waitFor();
    const token = await accessToken();
    const list = await historyOf(token);
    expect(list.total).toBe(2);
    await request(t.url)
      .delete(`/api/history/${list.items[0].session_id}`)
      .set('Authorization', `Bearer ${token}`)
      .expect(204);

    await page.reload();
    await page.locator('#session-list .session').first().waitFor();
    expect(await page.locator('#session-list .session').count()).toBe(1);
    expect(await page.locator('.msg').count()).toBe(0);
    expect(await page.locator('#chat-error').isVisible()).toBe(false);
  });

  it('logs out, and logs back in to the same history', async () => {
    await page.click('#logout');
    await page.locator('#auth-view').waitFor({ state: 'visible' });
    expect(await page.evaluate((key) => localStorage.getItem(key), TOKENS_KEY)).toBeNull();
    await page.fill('#email', email);
    await page.fill('#password', password);
    await page.click('#login-btn');
    await page.locator('#chat-view').waitFor({ state: 'visible' });
    await page.locator('#session-list .session').first().waitFor();
    expect(await page.locator('#session-list .session').count()).toBe(1);
  });

  it('regenerates a reply and steps between its versions with ‹ 1/2 ›', async () => {
    await page.click('#session-list .session .session-open');
    const reply = lastReply();
    await reply.locator('.controls .regenerate').waitFor();
    const before = await reply.locator('.content').textContent();
    const replyCount = await page.locator('.msg.assistant').count();

    await reply.locator('.controls .regenerate').click();
    // Once the new version is stored, the conversation is read again with it as the active one.
    await page.locator('.msg.assistant').last().locator('.controls .position').waitFor();
    expect(await page.locator('.msg.assistant').count()).toBe(replyCount);
    const newest = lastReply();
    expect(await newest.locator('.position').textContent()).toBe('2/2');
    expect(await newest.getAttribute('data-status')).toBe('complete');
    await shot('7-regenerated');

    await newest.locator('.controls .prev').click();
    await page.locator('.msg.assistant .position', { hasText: '1/2' }).waitFor();
    expect(await lastReply().locator('.content').textContent()).toBe(before);
    expect(await lastReply().locator('.controls .prev').isDisabled()).toBe(true);
    await lastReply().locator('.controls .next').click();
    await page.locator('.msg.assistant .position', { hasText: '2/2' }).waitFor();
  });

  it('rates a reply with 👍/👎, and the rating is still there after a reload', async () => {
    const up = lastReply().locator('.controls .thumb.up');
    await up.click();
    await page.locator('.msg.assistant:last-of-type .thumb.up[aria-pressed="true"]').waitFor();
    await page.reload();
    await lastReply().locator('.controls .thumb.up').waitFor();
    expect(await lastReply().locator('.thumb.up').getAttribute('aria-pressed')).toBe('true');
    expect(await lastReply().locator('.thumb.down').getAttribute('aria-pressed')).toBe('false');
    const sessionId = (await historyOf(await accessToken())).items[0].session_id;
    const stored = await request(t.url)
      .get(`/api/history/${sessionId}`)
      .set('Authorization', `Bearer ${await accessToken()}`)
      .expect(200);
    expect(stored.body.messages.at(-1).feedback).toEqual({ rating: 'up', comment: null });
  });

  it('edits a sent message and resends it as a new version; the old one stays', async () => {
    const userMessages = page.locator('.msg.user');
    const lastQuestion = userMessages.last();
    const original = await lastQuestion.locator('.content').textContent();
    await lastQuestion.locator('.controls .edit').click();
    expect(await page.inputValue('#input')).toBe(original);
    await page.fill('#input', 'An edited question');
    await page.press('#input', 'Enter');
    await page.locator('.msg.user .position', { hasText: '2/2' }).waitFor();
    expect(await page.locator('.msg.user').last().locator('.content').textContent()).toBe(
      'An edited question',
    );
    await page.locator('.msg.user').last().locator('.controls .prev').click();
    await page.locator('.msg.user .position', { hasText: '1/2' }).waitFor();
    expect(await page.locator('.msg.user').last().locator('.content').textContent()).toBe(original);
  });

  it('shows the tool calls of a stored reply above its text, as text, a failed one marked', async () => {
    const token = await accessToken();
    const me = await request(t.url)
      .get('/api/users/me')
      .set('Authorization', `Bearer ${token}`)
      .expect(200);
    const store = t.app.get(HistoryStore);
    const session = await store.createSession(me.body.id, 'With tools');
    const [, reply] = await store.appendMessages(session.id, [
      { role: 'user', content: 'What is 6*7, and the weather?', status: 'complete' },
      { role: 'assistant', content: 'It is **42**.', status: 'complete', model: 'local/echo' },
    ]);
    const call = { executedBy: 'server' as const, round: 0 };
    await store.updateMessage(session.id, reply.id, {
      toolCalls: [
        {
          ...call,
          id: 'c1',
          name: 'calculator',
          arguments: '{"expression":"6*7"}',
          result: { content: '42', isError: false },
        },
        {
          ...call,
          id: 'c2',
          name: 'get_weather',
          arguments: '{"city":"<b>Lisbon</b>"}',
          result: { content: 'timeout', isError: true },
        },
      ],
    });

    await page.reload();
    await page.locator('#session-list .session-open', { hasText: 'With tools' }).click();
    const lines = page.locator('.msg.assistant .tool-calls li');
    await lines.nth(1).waitFor();
    expect(await lines.allTextContents()).toEqual([
      '🔧 calculator({"expression":"6*7"}) → 42',
      '🔧 get_weather({"city":"<b>Lisbon</b>"}) → error: timeout',
    ]);
    expect(await page.locator('.msg.assistant .tool-calls li.failed').count()).toBe(1);
    expect(await page.locator('.msg.assistant .tool-calls b').count()).toBe(0);
    expect(await page.locator('.msg.assistant .content strong').last().textContent()).toBe('42');
    await shot('7-tool-calls');
  });

  it('attaches images with the picker and by drag and drop, and shows them in the conversation', async () => {
    await page.click('#new-chat');
    await page.setInputFiles('#file-input', {
      name: 'picked.png',
      mimeType: 'image/png',
      buffer: PNG_1X1,
    });
    await page.locator('#attachments .attachment[data-state="ready"]').waitFor();
    const dropped = await page.evaluateHandle((base64) => {
      const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
      const transfer = new DataTransfer();
      transfer.items.add(new File([bytes], 'dropped.png', { type: 'image/png' }));
      return transfer;
    }, PNG_1X1.toString('base64'));
    await page.dispatchEvent('#composer', 'dragover', { dataTransfer: dropped });
    await page.dispatchEvent('#composer', 'drop', { dataTransfer: dropped });
    await page.locator('#attachments .attachment[data-state="ready"]').nth(1).waitFor();
    await shot('8-attachments-tray');

    await page.fill('#input', 'What is in these pictures?');
    await page.press('#input', 'Enter');
    await page.locator('.msg.assistant[data-status="complete"]').last().waitFor();
    /** How many thumbnails of the newest user message are decoded images. */
    const loadedThumbnails = () =>
      page.waitForFunction(() => {
        const questions = document.querySelectorAll('.msg.user');
        const thumbs = questions[questions.length - 1]?.querySelectorAll('img.thumb') ?? [];
        const loaded = Array.from(thumbs).filter(
          (img) => (img as HTMLImageElement).naturalWidth > 0,
        );
        return loaded.length === 2 ? loaded.map((img) => (img as HTMLImageElement).alt) : null;
      });
    expect(await (await loadedThumbnails()).jsonValue()).toEqual(['picked.png', 'dropped.png']);
    expect(await page.locator('#attachments').isHidden()).toBe(true);

    const token = await accessToken();
    const sessionId = (await historyOf(token)).items[0].session_id;
    const stored = await request(t.url)
      .get(`/api/history/${sessionId}`)
      .set('Authorization', `Bearer ${token}`)
      .expect(200);
    expect(stored.body.messages[0].attachments.map((file: { name: string }) => file.name)).toEqual([
      'picked.png',
      'dropped.png',
    ]);

    // Read back from history after a reload, thumbnails included.
    await page.reload();
    await page.locator('.msg.user img.thumb').first().waitFor();
    expect(await (await loadedThumbnails()).jsonValue()).toEqual(['picked.png', 'dropped.png']);
    await shot('9-attachments-shown');
  });

  it('loads /docs, authorizes with the login token and calls GET /api/users/me', async () => {
    const token = await accessToken();
    expect(token).toEqual(expect.any(String));
    await page.goto(`${t.url}/docs`);
    await page.locator('.swagger-ui .information-container').waitFor();
    await page.click('button.authorize');
    const dialog = page.locator('.modal-ux');
    await dialog.locator('input').first().fill(token);
    await dialog.locator('button.authorize').click();
    await dialog.locator('button.btn-done, button.close-modal').first().click();

    const operation = page.locator('.opblock-get', { hasText: '/api/users/me' }).first();
    await operation.locator('.opblock-summary').click();
    await operation.locator('button.try-out__btn').click();
    await operation.locator('button.execute').click();
    const status = operation
      .locator('.live-responses-table tr.response .response-col_status')
      .first();
    await status.waitFor();
    expect((await status.textContent())?.trim()).toBe('200');
    expect(
      await operation
        .locator('.live-responses-table tr.response .response-col_description')
        .first()
        .textContent(),
    ).toContain(email);
    await shot('5-swagger-authorized');
  });

  it('refreshes an expired access token before sending and after a reload', async () => {
    // A second server whose access tokens live 3 s: the page must refresh them on its own.
    const short = await startTestApp({
      AI_SERVICES__LOCAL_DELAY_MS: '5',
      SECURITY__JWT_EXPIRES_IN: '3',
    });
    try {
      await page.goto(`${short.url}/`);
      await page.fill('#email', email);
      await page.fill('#password', password);
      await page.click('#register-btn');
      await page.locator('#connection[data-state="online"]').waitFor();
      const first = await accessToken();
      await page.waitForTimeout(3_500); // the token (and the socket's handshake) has expired

      await page.fill('#input', 'Still there?');
      await page.press('#input', 'Enter');
      await page.locator('.msg.assistant[data-status="complete"]').waitFor();
      expect(await lastReply().locator('.content').textContent()).toContain('Still there?');
      const second = await accessToken();
      expect(second).not.toBe(first);

      await page.waitForTimeout(3_500);
      await page.reload(); // GET /api/users/me answers 401 once, then the page refreshes
      await page.locator('#chat-view').waitFor({ state: 'visible' });
      await page.locator('#session-list .session').first().waitFor();
      expect(await accessToken()).not.toBe(second);
    } finally {
      await page.goto('about:blank'); // no socket left retrying the server closed below
      await short.close();
    }
  });

  it('resumes a reply by itself after a reload, and says so', async () => {
    // A server that keeps a left reply running (the suite's default aborts it at once).
    const resuming = await startTestApp({
      AI_SERVICES__LOCAL_DELAY_MS: '20',
      CHAT__RESUME_WINDOW_MS: '30000',
      CHAT__CHECKPOINT_MS: '100',
    });
    try {
      await page.goto(`${resuming.url}/`);
      await page.fill('#email', email);
      await page.fill('#password', password);
      await page.click('#register-btn');
      await page.locator('#connection[data-state="online"]').waitFor();
      const words = Array.from({ length: 150 }, (_, i) => `word${i}`).join(' ');
      await page.fill('#input', `Please repeat: ${words}`);
      await page.press('#input', 'Enter');
      await page.waitForFunction(() => {
        const bubbles = document.querySelectorAll('.msg.assistant .content');
        return (bubbles[bubbles.length - 1]?.textContent?.length ?? 0) > 40;
      });

      await page.reload();
      await page.locator('.msg.assistant.streaming').waitFor();
      await page.locator('.msg.assistant[data-status="complete"]').waitFor({ timeout: 20_000 });
      expect(await lastReply().locator('.meta').textContent()).toContain('resumed');
      const shown = (await lastReply().locator('.content').textContent()) ?? '';
      expect(shown).toContain('word149');

      const token = await accessToken();
      const [session] = (
        await request(resuming.url).get('/api/history').set('Authorization', `Bearer ${token}`)
      ).body.items;
      const detail = await request(resuming.url)
        .get(`/api/history/${session.session_id}`)
        .set('Authorization', `Bearer ${token}`)
        .expect(200);
      const stored = detail.body.messages[1];
      expect(stored.status).toBe('complete');
      // The page renders Markdown; the words survive it unchanged.
      expect(shown.replace(/\s+/g, ' ').trim()).toBe(stored.content.replace(/\s+/g, ' ').trim());
      await shot('6-resumed-after-reload');
    } finally {
      await page.goto('about:blank');
      await resuming.close();
    }
  });

  describe('on a phone (390×844)', () => {
    let phone: Awaited<ReturnType<typeof launchBrowser>>;
    let mobile: Page;
    let token: string;
    let sessionId: string;
    // A long address and a 200-character title (the most PATCH accepts), one unbreakable word.
    const phoneEmail = `phone-${Date.now()}-with-a-rather-long-mailbox-name@subdomain.example.com`;
    const longTitle = `Long ${'x'.repeat(195)}`;
    const phoneShot = (name: string) =>
      mobile.screenshot({ path: join(ARTIFACTS, `browser-phone-${name}.png`) });
    const storedTitles = async () => (await historyOf(token)).items.map((item) => item.title);

    beforeAll(async () => {
      await request(t.url).post('/api/auth/register').send({ email: phoneEmail, password });
      const login = await request(t.url)
        .post('/api/auth/login')
        .send({ email: phoneEmail, password })
        .expect(200);
      token = login.body.access_token;
      const chat = await request(t.url)
        .post('/api/chat')
        .set('Authorization', `Bearer ${token}`)
        .send({ message: 'A conversation with a very long title' })
        .expect(200);
      sessionId = chat.body.session_id;
      await request(t.url)
        .patch(`/api/history/${sessionId}`)
        .set('Authorization', `Bearer ${token}`)
        .send({ title: longTitle })
        .expect(200);
      expect(longTitle).toHaveLength(200);

      phone = await launchBrowser({ viewport: PHONE, isMobile: true, hasTouch: true });
      mobile = phone.page;
      watchForProblems(mobile, problems);
      await mobile.goto(`${t.url}/`);
      await mobile.fill('#email', phoneEmail);
      await mobile.fill('#password', password);
      await mobile.click('#login-btn');
      await mobile.locator('#chat-view').waitFor({ state: 'visible' });
      await mobile.locator('#connection[data-state="online"]').waitFor();
    });

    afterAll(async () => {
      await phone?.close();
    });

    it('fits the screen with a 200-character title: no horizontal scroll, Send visible and working', async () => {
      await mobile.locator('#session-list .session').first().waitFor({ state: 'attached' });
      expect(await pageWidth(mobile)).toBeLessThanOrEqual(PHONE.width);
      const send = await boxInViewport(mobile, '#send');
      expect(send).toEqual({ box: expect.any(Object), inside: true });
      await phoneShot('1-chat');

      await mobile.fill('#input', 'Hello from a phone');
      await mobile.click('#send');
      await mobile.locator('.msg.assistant[data-status="complete"]').waitFor();
      expect(await mobile.locator('.msg.assistant .content').last().textContent()).toContain(
        'Hello from a phone',
      );
      expect(await pageWidth(mobile)).toBeLessThanOrEqual(PHONE.width);
      expect((await boxInViewport(mobile, '#send')).inside).toBe(true);
    });

    it('opens the history as a drawer whose long title and e-mail are cut with an ellipsis', async () => {
      await mobile.click('#sidebar-toggle');
      const item = mobile.locator(`.session[data-session-id="${sessionId}"]`);
      await item.locator('.session-delete').waitFor({ state: 'visible' });
      await mobile.waitForTimeout(300); // the drawer slides in
      expect(await pageWidth(mobile)).toBeLessThanOrEqual(PHONE.width);
      const title = item.locator('.session-title');
      expect(await title.textContent()).toBe(longTitle);
      const cut = (selector: string) =>
        mobile
          .locator(selector)
          .evaluate((node) => node.scrollWidth > node.clientWidth && node.clientWidth > 0);
      expect(await cut(`.session[data-session-id="${sessionId}"] .session-title`)).toBe(true);
      expect(await cut('#user-email')).toBe(true);
      expect(await mobile.getAttribute('#user-email', 'title')).toBe(phoneEmail);
      for (const selector of [
        `.session[data-session-id="${sessionId}"] .session-delete`,
        `.session[data-session-id="${sessionId}"] .session-rename`,
        '#user-email',
        '#logout',
      ]) {
        expect({ selector, inside: (await boxInViewport(mobile, selector)).inside }).toEqual({
          selector,
          inside: true,
        });
      }
      await phoneShot('2-drawer');
    });

    it('renames a conversation in place', async () => {
      const item = mobile.locator(`.session[data-session-id="${sessionId}"]`);
      await item.locator('.session-rename').click();
      const input = item.locator('.session-rename-form input');
      expect(await input.inputValue()).toBe(longTitle);
      await input.fill('Trip to Lisbon');
      await input.press('Enter');
      await item.locator('.session-title', { hasText: 'Trip to Lisbon' }).waitFor();
      expect(await storedTitles()).toContain('Trip to Lisbon');

      // Escape leaves the title as it was.
      await item.locator('.session-rename').click();
      await item.locator('.session-rename-form input').fill('Not this one');
      await item.locator('.session-rename-form input').press('Escape');
      expect(await item.locator('.session-title').textContent()).toBe('Trip to Lisbon');
      expect(await storedTitles()).not.toContain('Not this one');
    });

    it('deletes a conversation only after confirmation; Cancel keeps it', async () => {
      if (!(await mobile.locator('#sidebar').isVisible())) await mobile.click('#sidebar-toggle');
      const item = mobile.locator(`.session[data-session-id="${sessionId}"]`);
      const before = (await storedTitles()).length;

      await item.locator('.session-delete').click();
      await item.locator('.session-confirm').waitFor();
      expect(await item.locator('.session-confirm').textContent()).toContain('Trip to Lisbon');
      expect((await boxInViewport(mobile, '.session-confirm-delete')).inside).toBe(true);
      await phoneShot('3-confirm-delete');
      await item.locator('.session-confirm-cancel').click();
      await item.locator('.session-title').waitFor();
      expect(await storedTitles()).toHaveLength(before);

      await item.locator('.session-delete').click();
      await item.locator('.session-confirm-delete').click();
      await item.waitFor({ state: 'detached' });
      expect(await storedTitles()).toHaveLength(before - 1);
      await request(t.url)
        .get(`/api/history/${sessionId}`)
        .set('Authorization', `Bearer ${token}`)
        .expect(404);
    });
  });

  it('ran without page errors, CSP violations or failed requests', () => {
    expect(problems).toEqual([]);
  });
});
