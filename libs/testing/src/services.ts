import { announceSkip, describeOnSqliteOnly, START_TEST_SERVICES } from './skipped-suites';

/**
 * Test services (Postgres, Redis, MongoDB protocol, an S3-compatible server) come from the
 * environment. Locally a missing one skips its suite (listed in the summary after the run);
 * under CI=true it fails.
 */
export type TestService = 'postgres' | 'redis' | 'mongo' | 's3';

const SERVICE_ENV: Record<TestService, string> = {
  postgres: 'TEST_POSTGRES_URL',
  redis: 'TEST_REDIS_URL',
  mongo: 'TEST_MONGO_URI',
  s3: 'TEST_S3_ENDPOINT',
};

export function serviceUrl(service: TestService): string | undefined {
  return process.env[SERVICE_ENV[service]] || undefined;
}

/**
 * `describe` when every named service is configured; otherwise `describe.skip` with a warning,
 * or a failing suite under CI.
 */
export function describeWithServices(
  services: TestService[],
  name: string,
  body: () => void,
): void {
  const missing = services.filter((service) => !serviceUrl(service));
  if (missing.length === 0) {
    describe(name, body);
    return;
  }
  const vars = missing.map((service) => SERVICE_ENV[service]).join(', ');
  if (process.env.CI === 'true') {
    describe(name, () => {
      it(`needs ${vars}`, () => {
        throw new Error(`CI run without ${vars}: .ci/run must start these services`);
      });
    });
    return;
  }
  announceSkip({
    name,
    reason: `${vars} ${missing.length > 1 ? 'are' : 'is'} not set`,
    missing: missing.map((service) => SERVICE_ENV[service]),
    setup: START_TEST_SERVICES,
  });
  describe.skip(name, body);
}

/** The database the e2e project runs on (set by test/setup/use-*.js). */
export function testDatabaseKind(): 'sqlite' | 'postgres' {
  return process.env.TEST_DB === 'postgres' ? 'postgres' : 'sqlite';
}

/** `describe` for an e2e suite: always on SQLite; on Postgres only when TEST_POSTGRES_URL is set. */
export function describeE2e(name: string, body: () => void): void {
  if (testDatabaseKind() === 'postgres') {
    describeWithServices(['postgres'], `${name} [postgres]`, body);
  } else {
    describe(`${name} [sqlite]`, body);
  }
}

/**
 * `describe` for an e2e suite about a service other than the database (e.g. S3 file storage):
 * run once, in the e2e-sqlite project, when the named services are configured.
 */
export function describeOnSqliteWithServices(
  services: TestService[],
  name: string,
  body: () => void,
): void {
  if (testDatabaseKind() === 'postgres') describeOnSqliteOnly(name, body);
  else describeWithServices(services, name, body);
}
