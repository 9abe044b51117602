import { Logger, OnApplicationShutdown } from '@nestjs/common';
import Redis, { type RedisOptions } from 'ioredis';
import { closeRedis, failFastAfterFirstConnect } from '@app/common';

/**
 * Every Redis connection of the process (REDIS_URL), made and closed here. `commands` is shared
 * by everything that sends plain commands (session locks, idempotency records, quotas, abort
 * requests); clients that need a connection of their own (subscriber mode, the Socket.IO adapter,
 * the readiness probe) ask for one by role. Closed in onApplicationShutdown, i.e. after the HTTP
 * server stopped, so streams that drain at shutdown can still release their locks.
 */
export class RedisConnections implements OnApplicationShutdown {
  private readonly logger = new Logger('Redis');
  private readonly open: Redis[] = [];
  /**
   * The shared command connection. Once its first connection attempt has ended, commands fail at
   * once while Redis is down, so callers fall back (in-process locks) or fail open (quotas)
   * instead of waiting for reconnection attempts.
   */
  readonly commands: Redis;

  constructor(private readonly url: string) {
    this.commands = this.commandConnection('commands');
  }

  /** Another connection that behaves like `commands`, for a client that must not share it. */
  commandConnection(role: string): Redis {
    return this.connect(role, { maxRetriesPerRequest: 2 }, failFastAfterFirstConnect);
  }

  /**
   * A connection for subscriber mode: (P)SUBSCRIBE waits until Redis is reachable however long it
   * is away (start-up included), and ioredis subscribes again after a reconnect.
   */
  subscriber(role: string): Redis {
    return this.connect(role, { enableOfflineQueue: true, maxRetriesPerRequest: null });
  }

  /** A connection with settings of its own, e.g. a probe that must never queue a command. */
  dedicated(role: string, options: RedisOptions): Redis {
    return this.connect(role, options);
  }

  async onApplicationShutdown(): Promise<void> {
    await Promise.all(this.open.splice(0).map(closeRedis));
  }

  private connect(
    role: string,
    options: RedisOptions,
    configure: (connection: Redis) => Redis = (connection) => connection,
  ): Redis {
    const connection = configure(new Redis(this.url, options));
    this.logOutages(connection, role);
    this.open.push(connection);
    return connection;
  }

  /**
   * ioredis emits an error for every failed reconnection attempt: one warning when a connection
   * goes down and one line when it is back, not a line every backoff step.
   */
  private logOutages(connection: Redis, role: string): void {
    let down = false;
    connection.on('error', (error: Error) => {
      if (down) return;
      down = true;
      this.logger.warn(
        { err: error, role },
        'Redis connection lost; reconnecting in the background',
      );
    });
    connection.on('ready', () => {
      if (!down) return;
      down = false;
      this.logger.log({ role }, 'Redis connection restored');
    });
  }
}
