import type { INestApplicationContext } from '@nestjs/common';
import { Logger } from '@nestjs/common';
import { IoAdapter } from '@nestjs/platform-socket.io';
import { createAdapter } from '@socket.io/redis-adapter';
import Redis from 'ioredis';
import type { Server, ServerOptions } from 'socket.io';
import type { AppConfig } from '@app/config';

/**
 * The Socket.IO adapter of the app: gateway CORS from CORS_ORIGINS (gateways do not use
 * `app.enableCors()`), and with REDIS_URL the `@socket.io/redis-adapter`, so rooms such as
 * `user:<id>` span every instance behind the load balancer.
 */
export class ChatIoAdapter extends IoAdapter {
  private readonly logger = new Logger(ChatIoAdapter.name);
  private adapterConstructor: ReturnType<typeof createAdapter> | undefined;
  private readonly connections: Redis[] = [];

  constructor(
    app: INestApplicationContext,
    private readonly config: AppConfig,
  ) {
    super(app);
  }

  /** Opens the publish/subscribe connections when REDIS_URL is set; no-op otherwise. */
  async connectToRedis(): Promise<void> {
    if (!this.config.redisUrl) return;
    const pub = new Redis(this.config.redisUrl, { maxRetriesPerRequest: 2 });
    const sub = pub.duplicate();
    for (const connection of [pub, sub]) {
      connection.on('error', (error) =>
        this.logger.warn({ err: error }, 'Redis connection error (Socket.IO adapter)'),
      );
      this.connections.push(connection);
    }
    this.adapterConstructor = createAdapter(pub, sub, { key: 'chatbot-socket.io' });
  }

  override createIOServer(port: number, options?: ServerOptions): Server {
    const origins = this.config.http.corsOrigins;
    const server = super.createIOServer(port, {
      ...options,
      cors: { origin: origins === '*' ? true : origins, credentials: origins !== '*' },
    }) as Server;
    if (this.adapterConstructor) server.adapter(this.adapterConstructor);
    return server;
  }

  override async dispose(): Promise<void> {
    await super.dispose();
    await Promise.all(
      this.connections.splice(0).map(async (connection) => {
        try {
          await connection.quit();
        } catch {
          connection.disconnect();
        }
      }),
    );
  }
}
