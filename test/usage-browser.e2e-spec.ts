import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import request from 'supertest';
import { registerAndLogin, startTestApp, type LoggedInUser, type TestApp } from '@app/testing';
import { describeBrowser, launchDesktopBrowser, openSignedIn } from './browser-harness';
import { ensureWebClientBuilt } from './web-build';

/** local/echo priced for this suite: 1 000 and 2 000 micro-dollars per prompt/completion token. */
const PRICES = { 'local/echo': { input: 1000, output: 2000 } };

/**
 * Usage and cost in chromium: the chat page shows the user's tokens and cost this month (GET
 * /api/usage) and reloads them after each reply; the admin page shows each user's cost this
 * month and a per-model table (GET /api/admin/usage). Screenshots in artifacts/.
 */
describeBrowser('usage and cost in chromium', () => {
  jest.setTimeout(120_000);

  let t: TestApp;
  let browser: Awaited<ReturnType<typeof launchDesktopBrowser>>;
  let page: Page;
  let admin: LoggedInUser;
  let user: LoggedInUser;
  const problems: string[] = [];
  const adminEmail = `usage-admin-${Date.now()}@example.com`;

  /** `$…` as the pages print an amount under $1, exact to the micro-dollar. */
  const dollars = (usd: number) => `$${usd === 0 ? '0.00' : String(usd)}`;
  async function usageOf(who: LoggedInUser) {
    const res = await request(t.url)
      .get('/api/usage')
      .set('Authorization', `Bearer ${who.token}`)
      .expect(200);
    return res.body.totals as { requests: number; tokens: number; cost_usd: number };
  }
  async function sendAndWait(text: string): Promise<void> {
    const replies = await page.locator('.msg.assistant').count();
    await page.fill('#input', text);
    await page.press('#input', 'Enter');
    await page.locator('.msg.assistant').nth(replies).waitFor();
    await page.locator('#send').waitFor({ state: 'visible' });
  }
  const usageLine = (totals: { tokens: number; cost_usd: number }) =>
    `This month: ${totals.tokens.toLocaleString('en-US')} tokens · ${dollars(totals.cost_usd)}`;

  beforeAll(async () => {
    ensureWebClientBuilt();
    const pricesFile = join(mkdtempSync(join(tmpdir(), 'usage-browser-')), 'prices.json');
    writeFileSync(pricesFile, JSON.stringify({ models: PRICES }));
    t = await startTestApp({
      ADMIN_EMAILS: adminEmail,
      MODEL_PRICES_FILE: pricesFile,
      AI_SERVICES__DEFAULT_MODEL: 'local/echo',
    });
    admin = await registerAndLogin(t.url, adminEmail);
    user = await registerAndLogin(t.url);
    browser = await launchDesktopBrowser(problems);
    page = browser.page;
  });

  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });

  it("shows the user's usage this month on the chat page, reloaded after each reply", async () => {
    await openSignedIn(page, `${t.url}/`, user);
    await page.locator('#chat-view').waitFor({ state: 'visible' });
    await page.locator('#usage-month', { hasText: 'This month: 0 tokens · $0.00' }).waitFor();

    await sendAndWait('How much does this cost?');
    // The ledger is written in batches; the page reloads the figure shortly after the reply.
    await page.locator('#usage-month', { hasNotText: ' 0 tokens' }).waitFor();
    const first = await usageOf(user);
    expect(first.requests).toBe(1);
    expect(first.cost_usd).toBeGreaterThan(0);
    expect(await page.textContent('#usage-month')).toBe(usageLine(first));

    await sendAndWait('And a second question, please?');
    await page
      .locator('#usage-month', { hasNotText: usageLine(first) })
      .waitFor({ timeout: 10_000 });
    const second = await usageOf(user);
    expect(second.requests).toBe(2);
    expect(await page.textContent('#usage-month')).toBe(usageLine(second));
    await browser.shot('usage-1-chat-page');
  });

  it("shows the admin each user's cost this month and usage per model", async () => {
    const totals = await usageOf(user);
    await openSignedIn(page, `${t.url}/admin`, admin);
    await page.locator('#admin-main').waitFor({ state: 'visible' });
    const cells = await page
      .locator(`#users-table tr[data-user-id="${user.id}"] td`)
      .allTextContents();
    expect(cells[7]).toBe(dollars(totals.cost_usd));
    const adminCells = await page
      .locator(`#users-table tr[data-user-id="${admin.id}"] td`)
      .allTextContents();
    expect(adminCells[7]).toBe('$0.00');

    const echo = await page
      .locator('#usage-table tbody tr', { hasText: 'local/echo' })
      .locator('td')
      .allTextContents();
    expect(echo).toEqual([
      'local/echo',
      '2',
      '0',
      expect.stringMatching(/^\d+$/),
      expect.stringMatching(/^\d+$/),
      dollars(totals.cost_usd),
    ]);
    expect(Number(echo[3]) + Number(echo[4])).toBe(totals.tokens);
    const footer = await page.locator('#usage-table tfoot td').allTextContents();
    expect(footer).toEqual(['All models', ...echo.slice(1)]);
    await browser.shot('usage-2-admin-page', true);
  });

  it('had no page errors, console errors or failed requests', () => {
    expect(problems).toEqual([]);
  });
});
