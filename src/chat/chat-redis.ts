import { Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import Redis from 'ioredis';
import { closeRedis, failFastAfterFirstConnect } from '@app/common';
import { AppConfig } from '@app/config';

/**
 * The chat module's Redis connections when REDIS_URL is set: one for commands (locks,
 * idempotency, publishing aborts) and one in subscriber mode (abort requests from other
 * instances). Closed after the HTTP server stopped, so draining streams can still use them.
 */
@Injectable()
export class ChatRedis implements OnApplicationShutdown {
  private readonly logger = new Logger(ChatRedis.name);
  readonly client: Redis | null;
  private subscriberConnection: Redis | null = null;

  constructor(config: AppConfig) {
    // Fail fast once connected: while Redis is down, lock and idempotency commands fail at once
    // and chat falls back to in-process state (FailoverInFlightLock) instead of waiting.
    this.client = config.redisUrl
      ? this.watch(
          failFastAfterFirstConnect(new Redis(config.redisUrl, { maxRetriesPerRequest: 2 })),
          'commands',
        )
      : null;
  }

  /** A dedicated connection in subscriber mode, created on first use; null without Redis. */
  subscriber(): Redis | null {
    if (!this.client) return null;
    // PSUBSCRIBE waits for the connection however long Redis is away (start-up included).
    this.subscriberConnection ??= this.watch(
      this.client.duplicate({ enableOfflineQueue: true, maxRetriesPerRequest: null }),
      'subscriber',
    );
    return this.subscriberConnection;
  }

  async onApplicationShutdown(): Promise<void> {
    const connections = [this.subscriberConnection, this.client].filter(
      (connection): connection is Redis => connection !== null,
    );
    await Promise.all(connections.map(closeRedis));
  }

  private watch(connection: Redis, role: string): Redis {
    connection.on('error', (error) => {
      this.logger.warn({ err: error, role }, 'Redis connection error (chat)');
    });
    return connection;
  }
}
