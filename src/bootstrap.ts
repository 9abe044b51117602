import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { Logger } from 'nestjs-pino';
import { AppConfig } from '@app/config';
import { configureApp, FrameworkChatterLogger } from '@app/common';
import { AppModule } from './app.module';
import { ChatIoAdapter } from './chat/redis-io.adapter';
import { RedisConnections } from './redis/redis-connections';

/** Creates and configures (but does not start) the application; shared by main.ts and tests. */
export async function createApp(config: AppConfig) {
  const app = await NestFactory.create<NestExpressApplication>(AppModule.forRoot(config), {
    bufferLogs: true,
    // Rethrow start-up failures (main.ts prints a one-line reason) instead of process.abort().
    abortOnError: false,
  });
  app.useLogger(new FrameworkChatterLogger(app.get(Logger)));
  configureApp(app, config);
  // Socket.IO: gateway CORS from CORS_ORIGINS, and the Redis adapter when REDIS_URL is set.
  const redis = config.redisUrl ? app.get(RedisConnections) : undefined;
  app.useWebSocketAdapter(new ChatIoAdapter(app, config, redis));
  return app;
}
