import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { announceSkip, describeOnSqliteOnly } from '@app/testing';

/**
 * What the browser suites share: Debian's chromium driven by playwright-core with its own
 * profile, a watch for page errors, and layout checks for a phone-sized viewport.
 */
export const CHROMIUM = '/usr/bin/chromium';
export const ARTIFACTS = join(__dirname, '..', 'artifacts');
export const TOKENS_KEY = 'nest-chatbot.tokens';
export const PHONE = { width: 390, height: 844 };

/** A chromium with its own profile (so its own localStorage), closed with `close()`. */
export async function launchBrowser(
  options: Parameters<typeof chromium.launchPersistentContext>[1],
): Promise<{
  context: BrowserContext;
  page: Page;
  /** A screenshot of the page to `artifacts/browser-<name>.png`. */
  shot(name: string, fullPage?: boolean): Promise<Buffer>;
  close(): Promise<void>;
}> {
  const userDataDir = mkdtempSync(join(tmpdir(), 'chatbot-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    ...options,
  });
  const page = context.pages()[0] ?? (await context.newPage());
  mkdirSync(ARTIFACTS, { recursive: true });
  return {
    context,
    page,
    shot: (name, fullPage = false) =>
      page.screenshot({ path: join(ARTIFACTS, `browser-${name}.png`), fullPage }),
    close: async () => {
      await context.close();
      rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}

/** Records page errors, console errors and failed requests of `page` into `problems`. */
export function watchForProblems(page: Page, problems: string[]): void {
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    // 401/404 responses the page handles itself are logged by chromium as console errors.
    if (message.type() === 'error' && !/status of 40[14]/.test(message.text())) {
      problems.push(`console: ${message.text()}`);
    }
  });
  page.on('requestfailed', (req) => {
    if (!/socket\.io/.test(req.url())) {
      problems.push(`request failed: ${req.url()} ${req.failure()?.errorText}`);
    }
  });
}

/** Where an element is on screen, and whether all of it is inside a `viewport`-sized window. */
export async function boxInViewport(page: Page, selector: string, viewport = PHONE) {
  const box = await page.locator(selector).boundingBox();
  if (!box) return { box, inside: false };
  const inside =
    box.x >= 0 &&
    box.y >= 0 &&
    box.x + box.width <= viewport.width &&
    box.y + box.height <= viewport.height;
  return { box, inside };
}

export const pageWidth = (page: Page) => page.evaluate(() => document.documentElement.scrollWidth);

export function describeBrowser(name: string, body: () => void): void {
  if (existsSync(CHROMIUM)) {
    describeOnSqliteOnly(name, body);
  } else if (process.env.CI === 'true') {
    describe(name, () => {
      it('needs chromium', () => {
        throw new Error(`CI run without ${CHROMIUM}: .ci/run must install the chromium package`);
      });
    });
  } else {
    announceSkip({ name, reason: `${CHROMIUM} is missing`, setup: 'apt-get install -y chromium' });
    describe.skip(name, body);
  }
}

/**
 * What keeps the page from fitting a phone: a page wider than the screen (sideways scroll), and
 * any of `selectors` not wholly on screen. Empty when everything fits.
 */
export async function phoneLayoutProblems(page: Page, selectors: string[]): Promise<string[]> {
  const problems: string[] = [];
  const width = await pageWidth(page);
  if (width > PHONE.width) problems.push(`page is ${width}px wide`);
  for (const selector of selectors) {
    if (!(await boxInViewport(page, selector)).inside) problems.push(`${selector} is off screen`);
  }
  return problems;
}

/**
 * Opens `url` signed in as `who` (tokens stored the way the chat page stores them), or signed
 * out with null. The tokens are stored before the page loads, so it never starts with another
 * account's tokens.
 */
export async function openSignedIn(
  page: Page,
  url: string,
  who: { token: string; refreshToken: string } | null,
): Promise<void> {
  if (!page.url().startsWith(new URL(url).origin)) await page.goto(url);
  await page.evaluate(
    ([key, tokens]) => (tokens ? localStorage.setItem(key, tokens) : localStorage.removeItem(key)),
    [
      TOKENS_KEY,
      who
        ? JSON.stringify({
            access_token: who.token,
            refresh_token: who.refreshToken,
            token_type: 'bearer',
            expires_in: 1800,
          })
        : null,
    ] as const,
  );
  await page.goto(url);
}

/** A desktop-sized chromium (1200×800) whose page reports its problems into `problems`. */
export async function launchDesktopBrowser(
  problems: string[],
): Promise<Awaited<ReturnType<typeof launchBrowser>>> {
  const browser = await launchBrowser({ viewport: { width: 1200, height: 800 } });
  watchForProblems(browser.page, problems);
  return browser;
}
