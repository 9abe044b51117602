import { join } from 'node:path';
import type { Page } from 'playwright-core';
import request from 'supertest';
import { registerAndLogin, startTestApp, type LoggedInUser, type TestApp } from '@app/testing';
import { ARTIFACTS, describeBrowser, launchDesktopBrowser, openSignedIn } from './browser-harness';
import { UsageLedger } from '../src/usage/usage-ledger';
import { writePricesFile } from './factories/prices.factory';
import { ensureWebClientBuilt } from './web-build';

/** local/echo priced for this suite: 1 000 and 2 000 micro-dollars per prompt/completion token. */
const PRICES = { 'local/echo': { input: 1000, output: 2000 } };
/** `$…` as the pages print an amount under $1, exact to the micro-dollar. */
const dollars = (usd: number) => `$${usd === 0 ? '0.00' : String(usd)}`;
const usageLine = (totals: { tokens: number; cost_usd: number }) =>
  `This month: ${totals.tokens.toLocaleString('en-US')} tokens · ${dollars(totals.cost_usd)}`;

/**
 * The admin page (/admin) in chromium: an admin sees users with their usage and cost this month,
 * usage per model and provider health, disables and enables a user; a normal user and a visitor
 * get no data. The chat page shows the user's usage this month, reloaded after each reply.
 * Screenshots in artifacts/.
 */
describeBrowser('admin page in chromium', () => {
  jest.setTimeout(120_000);

  let t: TestApp;
  let browser: Awaited<ReturnType<typeof launchDesktopBrowser>>;
  let page: Page;
  let admin: LoggedInUser;
  let user: LoggedInUser;
  const problems: string[] = [];
  const adminEmail = `browser-admin-${Date.now()}@example.com`;

  /** Signs the page in as `who` (or out, with null) and opens /admin. */
  const openAdminAs = (who: LoggedInUser | null) => openSignedIn(page, `${t.url}/admin`, who);

  const userRow = () => page.locator(`#users-table tr[data-user-id="${user.id}"]`);
  async function usageOf(who: LoggedInUser) {
    const res = await request(t.url)
      .get('/api/usage')
      .set('Authorization', `Bearer ${who.token}`)
      .expect(200);
    return res.body.totals as { requests: number; tokens: number; cost_usd: number };
  }
  /** Sends `text` from the chat page and waits for the whole reply. */
  async function sendAndWait(text: string): Promise<void> {
    const replies = await page.locator('.msg.assistant').count();
    await page.fill('#input', text);
    await page.press('#input', 'Enter');
    await page.locator('.msg.assistant').nth(replies).waitFor();
    await page.locator('#send').waitFor({ state: 'visible' });
  }

  beforeAll(async () => {
    ensureWebClientBuilt();
    t = await startTestApp({
      ADMIN_EMAILS: adminEmail,
      MODEL_PRICES_FILE: writePricesFile(PRICES),
    });
    admin = await registerAndLogin(t.url, adminEmail);
    user = await registerAndLogin(t.url);
    await request(t.url)
      .post('/api/chat')
      .set('Authorization', `Bearer ${user.token}`)
      .send({ message: 'hello from the browser suite', model: 'local/echo' })
      .expect(200);
    await t.app.get(UsageLedger).flush();
    browser = await launchDesktopBrowser(problems);
    page = browser.page;
  });

  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });

  it('shows an admin the users with their usage and the provider health', async () => {
    await openAdminAs(admin);
    await page.locator('#admin-main').waitFor({ state: 'visible' });
    expect(await page.textContent('#admin-who')).toBe(adminEmail);
    const cells = await userRow().locator('td').allTextContents();
    expect(cells.slice(0, 5)).toEqual([user.email, 'user', 'active', '1', '2']);
    expect(Number(cells[5])).toBeGreaterThan(0);
    const totals = await usageOf(user);
    expect(totals.cost_usd).toBeGreaterThan(0);
    expect(cells[7]).toBe(dollars(totals.cost_usd));
    expect(cells[8]).toBe('Disable');
    const local = await page
      .locator('#providers-table tbody tr', { hasText: 'local#0' })
      .locator('td')
      .allTextContents();
    expect(local.slice(0, 3)).toEqual(['local#0', 'closed', 'yes']);
    await page.screenshot({ path: join(ARTIFACTS, 'admin-1-users.png'), fullPage: true });
  });

  it("shows the user's usage this month on the chat page, reloaded after each reply", async () => {
    await openSignedIn(page, `${t.url}/`, user);
    await page.locator('#chat-view').waitFor({ state: 'visible' });
    const before = await usageOf(user);
    await page.locator('#usage-month', { hasText: usageLine(before) }).waitFor();

    let shown = before;
    for (const question of ['How much does this cost?', 'And a second question, please?']) {
      await sendAndWait(question);
      // The ledger is written in batches; the page reloads the figure shortly after the reply.
      await page
        .locator('#usage-month', { hasNotText: usageLine(shown) })
        .waitFor({ timeout: 10_000 });
      const now = await usageOf(user);
      expect(now.requests).toBe(shown.requests + 1);
      expect(now.cost_usd).toBeGreaterThan(shown.cost_usd);
      expect(await page.textContent('#usage-month')).toBe(usageLine(now));
      shown = now;
    }
    await page.screenshot({ path: join(ARTIFACTS, 'admin-1-chat-usage.png') });
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
      String(totals.requests),
      '0',
      expect.stringMatching(/^\d+$/),
      expect.stringMatching(/^\d+$/),
      dollars(totals.cost_usd),
    ]);
    expect(Number(echo[3]) + Number(echo[4])).toBe(totals.tokens);
    const footer = await page.locator('#usage-table tfoot td').allTextContents();
    expect(footer).toEqual(['All models', ...echo.slice(1)]);
    await page.screenshot({ path: join(ARTIFACTS, 'admin-1-usage-by-model.png'), fullPage: true });
  });

  it('disables and enables a user from the list, through the admin API', async () => {
    await userRow().getByRole('button', { name: 'Disable' }).click();
    await userRow().locator('td.state', { hasText: 'disabled' }).waitFor();
    await request(t.url)
      .get('/api/users/me')
      .set('Authorization', `Bearer ${user.token}`)
      .expect(403);
    await page.screenshot({ path: join(ARTIFACTS, 'admin-2-disabled.png'), fullPage: true });

    await userRow().getByRole('button', { name: 'Enable' }).click();
    await userRow().locator('td.state', { hasText: 'active' }).waitFor();
    await request(t.url)
      .get('/api/users/me')
      .set('Authorization', `Bearer ${user.token}`)
      .expect(200);
  });

  it('searches users by e-mail', async () => {
    await page.fill('#user-query', adminEmail);
    await page.click('#user-search button');
    await page.locator('#users-total', { hasText: '1 account(s)' }).waitFor();
    expect(await page.locator('#users-table tbody tr').count()).toBe(1);
    expect(await userRow().count()).toBe(0);
  });

  it('gives a normal user and a visitor a message and no data', async () => {
    await openAdminAs(user);
    await page.locator('#admin-error').waitFor({ state: 'visible' });
    expect(await page.textContent('#admin-error')).toBe(
      'This page is for administrators; your account is not one.',
    );
    expect(await page.locator('#admin-main').isHidden()).toBe(true);
    expect(await page.locator('#users-table tbody tr').count()).toBe(0);

    await openAdminAs(null);
    await page.locator('#admin-error').waitFor({ state: 'visible' });
    expect(await page.textContent('#admin-error')).toMatch(/^Sign in on the chat page first/);
    await page.screenshot({ path: join(ARTIFACTS, 'admin-3-refused.png'), fullPage: true });
  });

  it('had no page errors, console errors or failed requests', () => {
    // The refused normal user's 403 is logged by chromium as a console error; it is expected.
    expect(problems.filter((problem) => !/status of 403/.test(problem))).toEqual([]);
  });
});
