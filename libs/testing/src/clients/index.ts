export * from './api-key-client';
export * from './auth-client';
export * from './history-client';
export * from './socket-clients';
export * from './sse-client';
