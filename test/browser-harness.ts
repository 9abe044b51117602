import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { announceSkip, describeOnSqliteOnly } from '@app/testing';

/** What the browser suites share: Debian's chromium driven by playwright-core, and its checks. */
export const CHROMIUM = '/usr/bin/chromium';
export const ARTIFACTS = join(__dirname, '..', 'artifacts');
export const TOKENS_KEY = 'nest-chatbot.tokens';

/** A chromium with its own profile (so its own localStorage), closed with `close()`. */
export async function launchBrowser(
  options: Parameters<typeof chromium.launchPersistentContext>[1],
): Promise<{ context: BrowserContext; page: Page; close(): Promise<void> }> {
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
  return {
    context,
    page,
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

/** Runs `body` in the SQLite project when chromium is installed (CI requires it). */
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
 * A desktop-sized chromium (1200×800) whose page reports its problems into `problems`; the
 * artifacts folder for screenshots exists once it resolves.
 */
export async function launchDesktopBrowser(
  problems: string[],
): Promise<Awaited<ReturnType<typeof launchBrowser>>> {
  mkdirSync(ARTIFACTS, { recursive: true });
  const browser = await launchBrowser({ viewport: { width: 1200, height: 800 } });
  watchForProblems(browser.page, problems);
  return browser;
}
