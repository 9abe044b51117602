export * from './auth-client';
export * from './socket-clients';
export * from './sse-client';
