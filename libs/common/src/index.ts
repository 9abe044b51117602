export * from './errors/domain-errors';
export * from './errors/error-body';
export * from './errors/database-unavailable';
export * from './errors/http-exception.filter';
export * from './http/validation.pipe';
export * from './http/configure-app';
export * from './logging/logger-options';
export * from './redis/fail-fast-redis';
