import { randomBytes } from 'node:crypto';
import { AppProcess, ensureAppBuilt, killAllAppProcesses, startAppProcess } from './app-process';
import { canRunPrivateServices, PrivatePostgres } from './private-services';
import { announceSkip } from './skipped-suites';
import { createTestDatabase, TestDatabase } from './test-database';

/**
 * Set-up shared by the fault suites that run the built app as child processes
 * (test/faults-*.int-spec.ts).
 */

/**
 * Registers the hooks of a suite whose app processes share one fresh database on the shared
 * PostgreSQL: before all, the app is built and the database created; after all, every process
 * still running is killed and the database dropped. Returns the environment each process starts
 * from: that database, one signing secret for the whole suite, and `env`.
 */
export function appProcessesOnTestPostgres(
  env: Record<string, string>,
): () => Record<string, string> {
  let database: TestDatabase | undefined;
  const secret = randomBytes(32).toString('hex');

  beforeAll(async () => {
    await ensureAppBuilt();
    database = await createTestDatabase('postgres');
  }, 300_000);

  afterAll(async () => {
    await killAllAppProcesses();
    await database?.drop();
  }, 60_000);

  return () => ({ DATABASE_URL: database!.url, SECRET_KEY: secret, ...env });
}

/**
 * `describe` for a suite that starts a private PostgreSQL cluster: skipped (and listed in the
 * summary) where this machine cannot run one, a failing suite under CI.
 */
export function describeWithPrivatePostgres(name: string, body: () => void): void {
  const prerequisites = canRunPrivateServices();
  if (prerequisites.ok) {
    describe(name, body);
    return;
  }
  if (process.env.CI === 'true') {
    describe(name, () => {
      it('needs its prerequisites', () => {
        throw new Error(`CI run cannot start a private PostgreSQL: ${prerequisites.reason}`);
      });
    });
    return;
  }
  announceSkip({ name, reason: prerequisites.reason ?? 'cannot start a private PostgreSQL' });
  describe.skip(name, body);
}

/**
 * Builds the app if needed, starts a private PostgreSQL cluster and one app process on it with a
 * fresh signing secret and `env`. The caller destroys the cluster (also when the process failed
 * to start, this has done it already).
 */
export async function startAppOnPrivatePostgres(
  env: Record<string, string>,
): Promise<{ pg: PrivatePostgres; app: AppProcess }> {
  await ensureAppBuilt();
  const pg = await PrivatePostgres.start();
  try {
    const app = await startAppProcess({
      DATABASE_URL: pg.url,
      SECRET_KEY: randomBytes(32).toString('hex'),
      ...env,
    });
    return { pg, app };
  } catch (error) {
    await pg.destroy();
    throw error;
  }
}
