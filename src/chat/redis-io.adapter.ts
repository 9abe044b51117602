import type { INestApplicationContext } from '@nestjs/common';
import { Logger } from '@nestjs/common';
import { IoAdapter } from '@nestjs/platform-socket.io';
import { createAdapter } from '@socket.io/redis-adapter';
import type Redis from 'ioredis';
import type { Server, ServerOptions } from 'socket.io';
import { corsSettings } from '@app/common';
import type { AppConfig } from '@app/config';
import type { RedisConnections } from '../redis/redis-connections';
import { OutageWarning } from './outage-warning';

/**
 * The Socket.IO adapter of the app: gateway CORS from CORS_ORIGINS (gateways do not use
 * `app.enableCors()`), and with REDIS_URL the `@socket.io/redis-adapter`, so rooms such as
 * `user:<id>` span every instance behind the load balancer.
 */
export class ChatIoAdapter extends IoAdapter {
  private readonly logger = new Logger(ChatIoAdapter.name);
  private adapterConstructor: ReturnType<typeof createAdapter> | undefined;

  /** `redis`: the app's Redis connections when REDIS_URL is set. */
  constructor(
    app: INestApplicationContext,
    private readonly config: AppConfig,
    redis?: RedisConnections,
  ) {
    super(app);
    if (redis) this.useRedis(redis);
  }

  /**
   * Publish and subscribe connections of their own (the wrappers below patch them). Closed with
   * the app's other Redis connections, after the Socket.IO server.
   */
  private useRedis(redis: RedisConnections): void {
    // While Redis is down, events still reach this process's sockets; what would go to the other
    // processes is dropped at once (not queued: no burst of stale deltas on reconnect).
    const pub = redis.commandConnection('Socket.IO adapter publish');
    // The subscriber queues its SUBSCRIBE until connected, however long Redis is away (the
    // adapter does not handle a rejected SUBSCRIBE), and re-subscribes after a reconnect.
    const sub = redis.subscriber('Socket.IO adapter subscribe');
    this.adapterConstructor = createAdapter(
      this.catchPublishErrors(pub),
      this.catchSubscribeErrors(sub),
      {
        key: 'chatbot-socket.io',
      },
    );
  }

  /**
   * The Redis adapter fires `publish` without handling its promise: a failed publish (Redis
   * down) would be an unhandled rejection, which ends a Node 20 process. Handle it here.
   */
  private catchPublishErrors(pub: Redis): Redis {
    const publish = pub.publish.bind(pub);
    const outage = new OutageWarning(
      this.logger,
      'Redis unavailable: Socket.IO events reach only the sockets of this process',
    );
    const safePublish = (channel: string | Buffer, message: string | Buffer) => {
      const sent = publish(channel, message);
      sent.catch((error: unknown) => outage.log(error));
      return sent;
    };
    Object.assign(pub, { publish: safePublish });
    return pub;
  }

  /**
   * Likewise the adapter never handles its (P)SUBSCRIBE promises, nor the (P)UNSUBSCRIBE ones it
   * sends when the Socket.IO server closes. The subscriber queues them until Redis answers;
   * closing a connection that never came up rejects them, which would be an unhandled rejection
   * at shutdown. Mark them handled and log the failure.
   */
  private catchSubscribeErrors(sub: Redis): Redis {
    const logFailure = (error: unknown) =>
      this.logger.warn({ err: error }, 'Socket.IO adapter subscription failed');
    const commands = ['subscribe', 'psubscribe', 'unsubscribe', 'punsubscribe'] as const;
    for (const name of commands) {
      const command = sub[name].bind(sub) as (...args: unknown[]) => Promise<unknown>;
      Object.assign(sub, {
        [name]: (...args: unknown[]) => {
          const pending = command(...args);
          pending.catch(logFailure);
          return pending;
        },
      });
    }
    return sub;
  }

  override createIOServer(port: number, options?: ServerOptions): Server {
    const server = super.createIOServer(port, {
      ...options,
      cors: corsSettings(this.config.http.corsOrigins),
    }) as Server;
    if (this.adapterConstructor) server.adapter(this.adapterConstructor);
    return server;
  }
}
