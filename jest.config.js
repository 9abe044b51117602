/**
 * One jest run, three projects: unit specs beside the code, and the e2e suites twice — on SQLite
 * and on PostgreSQL (TEST_POSTGRES_URL). Service-backed suites skip when their service is missing
 * locally (summarised at the end of the run) and fail when CI=true.
 */
const tsJest = ['ts-jest', { tsconfig: 'tsconfig.json' }];
const moduleNameMapper = {
  '^@app/common(|/.*)$': '<rootDir>/libs/common/src$1',
  '^@app/testing(|/.*)$': '<rootDir>/libs/testing/src$1',
  '^@app/config(|/.*)$': '<rootDir>/config$1',
};
const base = {
  rootDir: __dirname,
  testEnvironment: 'node',
  transform: { '^.+\\.ts$': tsJest },
  moduleFileExtensions: ['ts', 'js', 'json'],
  moduleNameMapper,
};
const e2e = (db) => ({
  ...base,
  displayName: `e2e-${db}`,
  testMatch: ['<rootDir>/test/**/*.e2e-spec.ts'],
  setupFiles: [`<rootDir>/test/setup/use-${db}.js`],
});

module.exports = {
  maxWorkers: 2,
  testTimeout: 60_000,
  // After jest's own summary: what was skipped here, why, and the command that runs it.
  reporters: ['default', '<rootDir>/test/setup/skip-summary-reporter.js'],
  projects: [
    {
      ...base,
      displayName: 'unit',
      testMatch: [
        '<rootDir>/src/**/*.spec.ts',
        '<rootDir>/libs/**/*.spec.ts',
        '<rootDir>/config/**/*.spec.ts',
      ],
    },
    e2e('sqlite'),
    e2e('postgres'),
    {
      ...base,
      displayName: 'integration',
      testMatch: ['<rootDir>/test/**/*.int-spec.ts'],
    },
  ],
};
