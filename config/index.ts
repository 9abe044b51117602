export * from './app-config';
export * from './env-reader';
export * from './database';
export * from './model-price-catalog';
