export * from './services';
export * from './skipped-suites';
export * from './test-database';
export * from './test-app';
export * from './clients';
export * from './simulator/provider-simulator';
export * from './app-process';
export * from './private-services';
