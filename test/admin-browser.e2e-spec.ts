import { join } from 'node:path';
import type { Page } from 'playwright-core';
import request from 'supertest';
import { registerAndLogin, startTestApp, type LoggedInUser, type TestApp } from '@app/testing';
import { ARTIFACTS, describeBrowser, launchDesktopBrowser, openSignedIn } from './browser-harness';
import { UsageLedger } from '../src/usage/usage-ledger';
import { ensureWebClientBuilt } from './web-build';

/**
 * The admin page (/admin) in chromium: an admin sees users with their usage and provider health,
 * disables and enables a user; a normal user and a visitor get no data. Screenshots in artifacts/.
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

  beforeAll(async () => {
    ensureWebClientBuilt();
    t = await startTestApp({ ADMIN_EMAILS: adminEmail });
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
    expect(cells[7]).toBe('$0.00'); // local/echo is free
    expect(cells[8]).toBe('Disable');
    const local = await page
      .locator('#providers-table tbody tr', { hasText: 'local#0' })
      .locator('td')
      .allTextContents();
    expect(local.slice(0, 3)).toEqual(['local#0', 'closed', 'yes']);
    await page.screenshot({ path: join(ARTIFACTS, 'admin-1-users.png'), fullPage: true });
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
