import type Redis from 'ioredis';

/**
 * Makes an ioredis connection fail commands at once while it is disconnected, as soon as its
 * first connection attempt has ended (connected or failed). Commands sent before that are queued
 * as usual, so start-up never races the first connect. From then on, during an outage a caller
 * gets an error immediately (and can fall back or fail open) instead of waiting for
 * `maxRetriesPerRequest` reconnection attempts; ioredis keeps reconnecting in the background.
 * Not for subscriber connections: they must queue their SUBSCRIBE until connected.
 */
export function failFastAfterFirstConnect<T extends Redis>(redis: T): T {
  const failFast = () => {
    redis.options.enableOfflineQueue = false;
    redis.off('ready', failFast);
    redis.off('close', failFast);
  };
  redis.once('ready', failFast);
  redis.once('close', failFast);
  return redis;
}
