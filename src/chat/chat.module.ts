import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { FilesModule } from '../files/files.module';
import { AccessTokenModule } from '../auth/access-token.module';
import { PresetsModule } from '../presets/presets.module';
import { ToolsModule } from '../tools/tools.module';
import { UsageModule } from '../usage/usage.module';
import { ProvidersModule } from '../providers/providers.module';
import { RedisConnections } from '../redis/redis-connections';
import { ChatWsServer } from './chat-ws.server';
import { ChatController } from './chat.controller';
import { ChatGateway } from './chat.gateway';
import { ChatService } from './chat.service';
import { GenerationRegistry } from './generation-registry';
import { GenerationEventLog } from './generations/generation-event-log';
import { InterruptedReplySweeper } from './generations/interrupted-reply-sweeper';
import { MemoryGenerationEventLog } from './generations/memory-generation-event-log';
import { PendingReplyKey } from './generations/pending-reply-key.entity';
import { PendingReplyKeys } from './generations/pending-reply-keys';
import { RedisGenerationEventLog } from './generations/redis-generation-event-log';
import { TieredGenerationEventLog } from './generations/tiered-generation-event-log';
import { AppConfig } from '@app/config';
import { SocketAuthenticator } from './socket-authenticator';
import { FailoverIdempotencyStore } from './idempotency/failover-idempotency-store';
import { IDEMPOTENCY_STORE, IdempotencyStore } from './idempotency/idempotency-store';
import { MemoryIdempotencyStore } from './idempotency/memory-idempotency-store';
import { RedisIdempotencyStore } from './idempotency/redis-idempotency-store';
import { FailoverInFlightLock } from './locks/failover-in-flight-lock';
import { IN_FLIGHT_LOCK, InFlightLock } from './locks/in-flight-lock';
import { MemoryInFlightLock } from './locks/memory-in-flight-lock';
import { RedisInFlightLock } from './locks/redis-in-flight-lock';
import { ChatTurnPreflight } from './turn/chat-turn-preflight';
import { ChatTurnRunner } from './turn/chat-turn-runner';
import { ReplyCheckpointWriter } from './turn/reply-checkpoint-writer';
import { ReplyWriteRetrier } from './turn/reply-write-retrier';
import { SessionTitleService } from './turn/session-title.service';

/**
 * Chat over REST, SSE, Socket.IO (`/chat` namespace) and plain WebSocket (`/api/chat/ws`), all
 * through ChatService. Session locks, idempotency records and the generations' event logs (for
 * resumes) live in Redis when REDIS_URL is set (shared by every instance; in process while Redis is unreachable), else in process. The
 * history store comes from the global
 * HistoryModule; MetricsService from the global MetricsModule.
 */
@Module({
  imports: [
    AccessTokenModule,
    ProvidersModule,
    PresetsModule,
    UsageModule,
    FilesModule,
    ToolsModule,
    TypeOrmModule.forFeature([PendingReplyKey]),
  ],
  controllers: [ChatController],
  providers: [
    ChatService,
    ChatTurnPreflight,
    ChatTurnRunner,
    ReplyWriteRetrier,
    ReplyCheckpointWriter,
    SessionTitleService,
    GenerationRegistry,
    InterruptedReplySweeper,
    PendingReplyKeys,
    SocketAuthenticator,
    ChatGateway,
    ChatWsServer,
    {
      provide: IN_FLIGHT_LOCK,
      inject: [{ token: RedisConnections, optional: true }],
      useFactory: (redis?: RedisConnections): InFlightLock =>
        redis
          ? new FailoverInFlightLock(
              new RedisInFlightLock(redis.commands),
              new MemoryInFlightLock(),
            )
          : new MemoryInFlightLock(),
    },
    {
      provide: GenerationEventLog,
      inject: [AppConfig, { token: RedisConnections, optional: true }],
      useFactory: (config: AppConfig, redis?: RedisConnections): GenerationEventLog =>
        redis
          ? new TieredGenerationEventLog(
              // A connection of its own: a burst of reply events never queues the rate-limit,
              // lock and quota commands of the shared one.
              new RedisGenerationEventLog(
                redis.commandConnection('generation events'),
                config.chat.resumeTtlSeconds,
              ),
              config.chat.resumeTtlSeconds,
            )
          : new MemoryGenerationEventLog(config.chat.resumeTtlSeconds),
    },
    {
      provide: IDEMPOTENCY_STORE,
      inject: [{ token: RedisConnections, optional: true }],
      useFactory: (redis?: RedisConnections): IdempotencyStore =>
        redis
          ? new FailoverIdempotencyStore(
              new RedisIdempotencyStore(redis.commands),
              new MemoryIdempotencyStore(),
            )
          : new MemoryIdempotencyStore(),
    },
  ],
  exports: [ChatService],
})
export class ChatModule {}
