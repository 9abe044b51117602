import type { Page } from 'playwright-core';
import request from 'supertest';
import { type AppWithSimulator, registerAndLogin, startAppWithSimulator } from '@app/testing';
import {
  describeBrowser,
  launchBrowser,
  phoneLayoutProblems,
  PHONE,
  watchForProblems,
} from './browser-harness';
import { ensureWebClientBuilt } from './web-build';

interface Settings {
  system_prompt: string | null;
  model: string | null;
  temperature: number | null;
  max_tokens: number | null;
}

/**
 * The chat page's Settings panel and presets in chromium, against the provider simulator (the
 * app's Groq provider pointed at it), so what a turn sent upstream is checked in its request log:
 * a new chat's first message carries the panel's settings; an open conversation's are saved with
 * PATCH and used by its next turn, and shown again after a reload; presets are saved, renamed,
 * applied (to an open conversation and to a new chat) and deleted; the panel on a phone.
 */
describeBrowser('browser chat page: conversation settings and presets in chromium', () => {
  jest.setTimeout(120_000);

  let t: AppWithSimulator;
  let user: Awaited<ReturnType<typeof registerAndLogin>>;
  let browser: Awaited<ReturnType<typeof launchBrowser>>;
  let page: Page;
  const problems: string[] = [];

  const api = () => ({
    get: (path: string) =>
      request(t.url).get(path).set('Authorization', `Bearer ${user.token}`).expect(200),
    post: (path: string, body: object) =>
      request(t.url).post(path).set('Authorization', `Bearer ${user.token}`).send(body),
  });
  const sessions = async () =>
    (await api().get('/api/history')).body.items as { session_id: string }[];
  const storedSettings = async (sessionId: string) =>
    (await api().get(`/api/history/${sessionId}`)).body.settings as Settings;
  const presets = async () =>
    (await api().get('/api/presets')).body.items as (Settings & { id: string; name: string })[];
  /** What the provider received last, and what it should have received. */
  const upstream = () => t.sim.lastChatSettings();
  const sent = (model: string, temperature?: number, max_tokens?: number, system?: string) => ({
    model,
    temperature,
    max_tokens,
    system,
  });
  const settingsOf = ({ system_prompt, model, temperature, max_tokens }: Settings): Settings => ({
    system_prompt,
    model,
    temperature,
    max_tokens,
  });
  /** The panel's fields as shown: model, system prompt, temperature, max reply tokens. */
  const panel = async () =>
    Promise.all(
      ['Model', 'System prompt', 'Temperature', 'Max reply tokens'].map((label) =>
        page.getByLabel(label).inputValue(),
      ),
    );
  const openPanel = async (on: Page = page) => {
    if (await on.locator('#settings-panel').isHidden()) await on.click('#settings-toggle');
    await on.locator('#settings-panel').waitFor({ state: 'visible' });
  };
  const send = async (text: string) => {
    const replies = await page.locator('.msg.assistant[data-status="complete"]').count();
    await page.fill('#input', text);
    await page.press('#input', 'Enter');
    await page.locator('.msg.assistant[data-status="complete"]').nth(replies).waitFor();
  };
  const signIn = async (on: Page) => {
    await on.goto(`${t.url}/`);
    await on.fill('#email', user.email);
    await on.fill('#password', user.password);
    await on.click('#login-btn');
    await on.locator('#connection[data-state="online"]').waitFor();
  };

  beforeAll(async () => {
    ensureWebClientBuilt();
    t = await startAppWithSimulator();
    user = await registerAndLogin(t.url);
    browser = await launchBrowser({ viewport: { width: 1200, height: 800 } });
    page = browser.page;
    watchForProblems(page, problems);
    await signIn(page);
  });

  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });

  it('a new chat sends the settings chosen in the panel with its first message', async () => {
    await openPanel();
    const models = (await api().get('/api/models')).body.items as { id: string }[];
    const options = await page
      .locator('#model option')
      .evaluateAll((nodes) => nodes.map((node) => (node as HTMLOptionElement).value));
    expect(options).toEqual(models.map((m) => m.id));
    expect(await page.getByLabel('Model').inputValue()).toBe('groq/llama-3.1-8b-instant');

    await page.getByLabel('Model').selectOption('groq/llama-3.3-70b-versatile');
    await page.getByLabel('System prompt').fill('Answer like a pirate.');
    await page.getByLabel('Temperature').fill('0.3');
    await page.getByLabel('Max reply tokens').fill('200');
    await send('Where is the treasure?');

    expect(upstream()).toEqual(sent('llama-3.3-70b-versatile', 0.3, 200, 'Answer like a pirate.'));
    const [session] = await sessions();
    expect(await storedSettings(session.session_id)).toEqual({
      system_prompt: 'Answer like a pirate.',
      model: 'groq/llama-3.3-70b-versatile',
      temperature: 0.3,
      max_tokens: 200,
    });
    await browser.shot('settings-1-panel');
  });

  it("saves an open conversation's settings; its next turn uses them and a reload shows them", async () => {
    const [session] = await sessions();
    await page.getByLabel('System prompt').fill('Be brief.');
    await page.getByLabel('Temperature').fill('1.2');
    await page.getByLabel('Max reply tokens').fill('');
    await page.click('#settings-save');
    await page.locator('#settings-status', { hasText: 'Saved' }).waitFor();
    expect(await storedSettings(session.session_id)).toEqual({
      system_prompt: 'Be brief.',
      model: 'groq/llama-3.3-70b-versatile',
      temperature: 1.2,
      max_tokens: null,
    });

    await send('And now?');
    expect(upstream()).toEqual(sent('llama-3.3-70b-versatile', 1.2, undefined, 'Be brief.'));

    // An edit not saved with the button is saved before the next message goes out.
    await page.getByLabel('System prompt').fill('Be very brief.');
    await send('Once more');
    expect(upstream().system).toBe('Be very brief.');
    expect((await storedSettings(session.session_id)).system_prompt).toBe('Be very brief.');

    await page.reload();
    await page.locator('.msg.assistant').nth(2).waitFor();
    await openPanel();
    expect(await panel()).toEqual(['groq/llama-3.3-70b-versatile', 'Be very brief.', '1.2', '']);
    expect(await page.textContent('#settings-summary')).toContain('groq/llama-3.3-70b-versatile');
  });

  it('refuses an out-of-range setting in the page, saving nothing', async () => {
    const [session] = await sessions();
    await page.getByLabel('Temperature').fill('5');
    await page.click('#settings-save');
    await page.locator('#settings-error', { hasText: 'Check the highlighted setting' }).waitFor();
    expect(
      await page
        .getByLabel('Temperature')
        .evaluate((input) => (input as HTMLInputElement).validity.valid),
    ).toBe(false);
    expect((await storedSettings(session.session_id)).temperature).toBe(1.2);
    await page.getByLabel('Temperature').fill('1.2');
  });

  it('saves the settings as a preset, renames it, and refuses a nameless one', async () => {
    await page.click('#preset-save');
    await page.locator('#settings-error', { hasText: 'Type a name for the preset' }).waitFor();
    expect(await presets()).toEqual([]);

    await page.getByLabel('Preset name').fill('Brief');
    await page.click('#preset-save');
    await page.locator('#settings-status', { hasText: 'Saved as “Brief”' }).waitFor();
    const [saved] = await presets();
    expect(saved).toMatchObject({
      name: 'Brief',
      system_prompt: 'Be very brief.',
      model: 'groq/llama-3.3-70b-versatile',
      temperature: 1.2,
      max_tokens: null,
    });
    expect(await page.getByLabel('Preset', { exact: true }).inputValue()).toBe(saved.id);

    await page.getByLabel('Preset name').fill('Brief replies');
    await page.click('#preset-rename');
    await page.locator('#settings-status', { hasText: 'Renamed to “Brief replies”' }).waitFor();
    expect((await presets()).map((p) => p.name)).toEqual(['Brief replies']);
    expect(await page.locator('#preset-select option:checked').textContent()).toBe('Brief replies');
  });

  it("applies a preset to the open conversation: the session's settings become the preset's", async () => {
    const french = (
      await api()
        .post('/api/presets', {
          name: 'Terse French',
          system_prompt: 'Réponds en français, brièvement.',
          temperature: 0.1,
          max_tokens: 64,
        })
        .expect(201)
    ).body as Settings & { id: string };
    await page.reload();
    await page.locator('.msg.assistant').nth(2).waitFor();
    await openPanel();
    await page.getByLabel('Preset', { exact: true }).selectOption({ label: 'Terse French' });
    await page.click('#preset-apply');
    await page.locator('#settings-status', { hasText: '“Terse French” applied' }).waitFor();

    const [session] = await sessions();
    expect(await storedSettings(session.session_id)).toEqual(settingsOf(french));
    // The preset names no model: the default one.
    expect(await panel()).toEqual([
      'groq/llama-3.1-8b-instant',
      'Réponds en français, brièvement.',
      '0.1',
      '64',
    ]);
    await send('Bonjour');
    expect(upstream()).toEqual(
      sent('llama-3.1-8b-instant', 0.1, 64, 'Réponds en français, brièvement.'),
    );
  });

  it("applies a preset to a new chat: its first message names it and the session gets the preset's settings", async () => {
    await page.click('#new-chat');
    await openPanel();
    expect(await panel()).toEqual(['groq/llama-3.1-8b-instant', '', '', '']);
    await page.getByLabel('Preset', { exact: true }).selectOption({ label: 'Brief replies' });
    await page.click('#preset-apply');
    await page.locator('#settings-status', { hasText: 'used from the first message' }).waitFor();
    expect((await panel())[1]).toBe('Be very brief.');
    await send('A new conversation');

    const [brief] = (await presets()).filter((p) => p.name === 'Brief replies');
    const newest = (await sessions())[0];
    expect(await storedSettings(newest.session_id)).toEqual(settingsOf(brief));
    expect(upstream()).toEqual(sent('llama-3.3-70b-versatile', 1.2, undefined, 'Be very brief.'));
  });

  it('deletes a preset only after confirmation; Cancel keeps it', async () => {
    await page.getByLabel('Preset', { exact: true }).selectOption({ label: 'Terse French' });
    await page.click('#preset-delete');
    await page.locator('#preset-confirm').waitFor();
    expect(await page.textContent('#preset-confirm-text')).toBe(
      'Delete the preset “Terse French”?',
    );
    await page.click('#preset-confirm-cancel');
    expect(await page.locator('#preset-confirm').isHidden()).toBe(true);
    // Both kept (created within a second of each other, their order may be either).
    expect((await presets()).map((p) => p.name).sort()).toEqual(['Brief replies', 'Terse French']);

    await page.click('#preset-delete');
    await page.click('#preset-confirm-delete');
    await page.locator('#settings-status', { hasText: 'Deleted “Terse French”' }).waitFor();
    expect((await presets()).map((p) => p.name)).toEqual(['Brief replies']);
    const options = await page
      .locator('#preset-select option')
      .evaluateAll((nodes) => nodes.map((node) => node.textContent));
    expect(options).toEqual(['Choose a preset…', 'Brief replies']);
  });

  it('fits a phone: the panel scrolls no page sideways and its buttons are on screen', async () => {
    const phone = await launchBrowser({ viewport: PHONE, isMobile: true, hasTouch: true });
    try {
      watchForProblems(phone.page, problems);
      await signIn(phone.page);
      await openPanel(phone.page);
      expect(await phone.page.getByLabel('System prompt').isVisible()).toBe(true);
      expect(
        await phoneLayoutProblems(phone.page, [
          '#settings-save',
          '#model',
          '#temperature',
          '#max-tokens',
          '#send',
        ]),
      ).toEqual([]);
      await phone.page.locator('#preset-rename').scrollIntoViewIfNeeded();
      expect(await phoneLayoutProblems(phone.page, ['#preset-rename', '#preset-delete'])).toEqual(
        [],
      );
      await phone.shot('phone-settings');
    } finally {
      await phone.close();
    }
  });

  it('ran without page errors, CSP violations or failed requests', () => {
    expect(problems).toEqual([]);
  });
});
