import { appendFileSync } from 'node:fs';

/**
 * Why a suite (or part of one) did not run here, and what runs it. jest prints nothing for a
 * suite whose tests are all skipped, so suites announce their skips through this, and
 * test/setup/skip-summary-reporter.js prints one summary of them after the run.
 */
export interface SkipNotice {
  /** The suite or test that was skipped. */
  name: string;
  /** Why, e.g. "TEST_REDIS_URL is not set". */
  reason: string;
  /** Environment variables whose absence is the reason (merged when a file names several). */
  missing?: string[];
  /** What to do first, e.g. `eval "$(bash scripts/test-services.sh)"`; the reporter adds the jest command. */
  setup?: string;
  /** A skip that is the design, not a missing prerequisite (SQLite-only suites in e2e-postgres). */
  byDesign?: boolean;
}

/** The file the summary reporter reads; set by the reporter in jest's main process. */
export const SKIP_NOTICES_ENV = 'JEST_SKIP_NOTICES';

/** Records a skip for the end-of-run summary (or warns at once when no reporter collects them). */
export function announceSkip(notice: SkipNotice): void {
  const file = process.env[SKIP_NOTICES_ENV];
  if (!file) {
    if (notice.byDesign) return;
    const todo = notice.setup ? ` (${notice.setup})` : '';
    // eslint-disable-next-line no-console
    console.warn(`\n*** SKIPPED "${notice.name}": ${notice.reason}${todo} ***\n`);
    return;
  }
  const record = {
    ...notice,
    testPath: expect.getState().testPath,
    database: process.env.TEST_DB,
  };
  appendFileSync(file, `${JSON.stringify(record)}\n`);
}

/** Setup line for suites that need the shared test services. */
export const START_TEST_SERVICES = 'eval "$(bash scripts/test-services.sh)"';

/** `describe` for suites that need no database of their own: run once, in the e2e-sqlite project. */
export function describeOnSqliteOnly(name: string, body: () => void): void {
  if (process.env.TEST_DB !== 'postgres') {
    describe(name, body);
    return;
  }
  announceSkip({ name, reason: 'runs in the e2e-sqlite project only', byDesign: true });
  describe.skip(name, body);
}
