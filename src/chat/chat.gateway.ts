import { Logger, Optional } from '@nestjs/common';
import {
  OnGatewayConnection,
  OnGatewayDisconnect,
  OnGatewayInit,
  WebSocketGateway,
  WebSocketServer,
} from '@nestjs/websockets';
import type { Namespace, Socket } from 'socket.io';
import { ForbiddenError, mapError, UnauthorizedError } from '@app/common';
import { AppConfig } from '@app/config';
import { MetricsService } from '../metrics/metrics.service';
import { ChatEvent, eventPayload } from './chat-events';
import type { ChatTurn } from './chat-turn';
import { ChatService, type ResumedGeneration } from './chat.service';
import { AbortRequestDto, ResumeRequestDto } from './dto/chat-request.dto';
import { SocketAuthenticator, type SocketIdentity } from './socket-authenticator';
import {
  ConnectionRateLimiter,
  readChatPayload,
  readToolResultPayload,
  validatePayload,
} from './socket-payload';

/** What the handshake middleware leaves on `socket.data`. */
interface ChatSocketData extends SocketIdentity {
  limiter: ConnectionRateLimiter;
  turns: Set<ChatTurn>;
  /** Ends the socket's resumes when it disconnects. */
  resumes: AbortController;
}

type ChatSocket = Socket<
  Record<string, (...args: unknown[]) => void>,
  Record<string, (...args: unknown[]) => void>,
  Record<string, never>,
  ChatSocketData
>;

type Ack = (response: Record<string, unknown>) => void;

/** The room of all of a user's sockets (tabs, devices; across instances with the Redis adapter). */
export const userRoom = (userId: string) => `user:${userId}`;
/**
 * The sockets resuming a generation: they get its events from the resume, in order from their
 * `after`, so the broadcast to the user's room leaves them out (no duplicates).
 */
export const resumeRoom = (messageId: string) => `resume:${messageId}`;

/**
 * Socket.IO namespace `/chat`. Authentication happens in namespace middleware (guards do not run
 * on connection): the access token from `auth.token`, an `Authorization: Bearer` header or the
 * `token` query parameter; failure → `connect_error` with message `unauthorized` (or `forbidden`
 * for a disabled account, `unavailable` while the database is down). Each socket joins
 * `user:<id>`.
 *
 * Client → server: `chat:send` `{message, session_id?, model?, system_prompt?, temperature?,
 * max_tokens?, tools?, tool_results?, client_id?}` with an ack `{ok: true, session_id, message_id}`
 * or `{ok: false, detail, status}`; `chat:tool_result` the same with `tool_results` required
 * (answers the reply's tool calls); `chat:abort` `{session_id}` (ack `{ok, session_id, running}`).
 * Server → the user's room: `chat:start`, `chat:delta`, `chat:tool_call`, `chat:tool_result`,
 * `chat:done`, `chat:error` with the SSE
 * payloads plus `session_id`, `client_id` and `seq` (the event's sequence number) on every
 * event. Errors before a reply starts go to the sending socket only, as
 * `chat:error {detail, status, client_id}`. A disconnect leaves the replies that socket started
 * (aborted after CHAT__RESUME_WINDOW_MS unless resumed). `chat:resume {message_id, after?}`
 * (ack `{ok: true, message_id}` or `{ok: false, detail, status}`) sends that socket the events
 * after `after`, then the live rest, as the same `chat:*` events. CORS comes from CORS_ORIGINS
 * (see ChatIoAdapter).
 */
@WebSocketGateway({ namespace: '/chat' })
export class ChatGateway implements OnGatewayInit, OnGatewayConnection, OnGatewayDisconnect {
  private readonly logger = new Logger(ChatGateway.name);

  @WebSocketServer()
  private readonly namespace: Namespace;

  constructor(
    private readonly authenticator: SocketAuthenticator,
    private readonly chat: ChatService,
    private readonly config: AppConfig,
    @Optional() private readonly metrics?: MetricsService,
  ) {}

  afterInit(namespace: Namespace): void {
    namespace.use((socket, next) => {
      this.authenticate(socket as ChatSocket).then(
        () => next(),
        (error: unknown) => {
          // A database outage is not a bad token: `unavailable` tells the client to retry later
          // instead of logging the user out.
          const reason =
            error instanceof ForbiddenError
              ? 'forbidden'
              : mapError(error).status === 503
                ? 'unavailable'
                : 'unauthorized';
          next(new Error(reason));
        },
      );
    });
  }

  handleConnection(socket: ChatSocket): void {
    const { user } = socket.data;
    if (!user) {
      socket.disconnect(true);
      return;
    }
    void socket.join(userRoom(user.id));
    this.metrics?.socketConnected('socketio');
    socket.on('chat:send', (payload: unknown, ack?: unknown) => {
      void this.onSend(socket, payload, typeof ack === 'function' ? (ack as Ack) : undefined);
    });
    socket.on('chat:tool_result', (payload: unknown, ack?: unknown) => {
      const answer = typeof ack === 'function' ? (ack as Ack) : undefined;
      void this.onSend(socket, payload, answer, readToolResultPayload);
    });
    socket.on('chat:abort', (payload: unknown, ack?: unknown) => {
      void this.onAbort(socket, payload, typeof ack === 'function' ? (ack as Ack) : undefined);
    });
    socket.on('chat:resume', (payload: unknown, ack?: unknown) => {
      void this.onResume(socket, payload, typeof ack === 'function' ? (ack as Ack) : undefined);
    });
  }

  handleDisconnect(socket: ChatSocket): void {
    if (!socket.data.user) return;
    this.metrics?.socketDisconnected('socketio');
    socket.data.resumes.abort();
    for (const turn of socket.data.turns) turn.leave();
  }

  private async authenticate(socket: ChatSocket): Promise<void> {
    const { user, expiresAt, revalidate } = await this.authenticator.socketIo(socket.handshake);
    socket.data.user = user;
    socket.data.expiresAt = expiresAt;
    socket.data.revalidate = revalidate;
    socket.data.limiter = new ConnectionRateLimiter(this.config.rateLimit.defaultPerMinute);
    socket.data.turns = new Set();
    socket.data.resumes = new AbortController();
  }

  /** Token expiry and the per-connection event budget, checked on every event. */
  private admit(socket: ChatSocket): void {
    if (Date.now() / 1000 >= socket.data.expiresAt) {
      throw new UnauthorizedError('Access token has expired; reconnect with a new one');
    }
    try {
      socket.data.limiter.hit();
    } catch (error) {
      this.metrics?.throttled('socketio');
      throw error;
    }
  }

  private async onSend(
    socket: ChatSocket,
    payload: unknown,
    ack?: Ack,
    read = readChatPayload,
  ): Promise<void> {
    const clientId = clientIdOf(payload);
    let turn: ChatTurn;
    try {
      this.admit(socket);
      await socket.data.revalidate?.();
      const input = await read(payload);
      const { user } = socket.data;
      turn = await this.chat.begin(user.id, input, { apiKey: user.apiKey });
    } catch (error) {
      const { status, body } = mapError(error);
      if (status >= 500) this.logger.error({ err: error }, 'chat:send failed');
      ack?.({ ok: false, ...body, status });
      socket.emit('chat:error', { ...body, status, client_id: clientId });
      return;
    }

    ack?.({ ok: true, session_id: turn.sessionId, message_id: turn.messageId });
    socket.data.turns.add(turn);
    this.metrics?.streamOpened('socketio');
    const room = this.namespace
      .to(userRoom(socket.data.user.id))
      .except(resumeRoom(turn.messageId));
    const extra = { session_id: turn.sessionId, client_id: clientId };
    try {
      await turn.run((event: ChatEvent, seq: number) => {
        room.emit(`chat:${event.type}`, { ...eventPayload(event), ...extra, seq });
      });
    } finally {
      socket.data.turns.delete(turn);
      this.metrics?.streamClosed('socketio');
    }
  }

  private async onResume(socket: ChatSocket, payload: unknown, ack?: Ack): Promise<void> {
    let resumed: ResumedGeneration;
    let room: string | undefined;
    try {
      this.admit(socket);
      const dto = await validatePayload(ResumeRequestDto, payload);
      // Out of the room broadcast first, so every event after `after` comes from here, once.
      room = resumeRoom(dto.message_id);
      await socket.join(room);
      resumed = await this.chat.resume(
        socket.data.user.id,
        dto.message_id,
        dto.after ?? 0,
        socket.data.resumes.signal,
      );
    } catch (error) {
      const { status, body } = mapError(error);
      if (status >= 500) this.logger.error({ err: error }, 'chat:resume failed');
      if (room) await socket.leave(room);
      ack?.({ ok: false, ...body, status });
      socket.emit('chat:error', { ...body, status });
      return;
    }
    ack?.({ ok: true, message_id: (payload as ResumeRequestDto).message_id });
    this.metrics?.streamOpened('socketio');
    const extra = { session_id: resumed.sessionId };
    try {
      for await (const event of resumed.events) {
        socket.emit(`chat:${event.type}`, { ...event.data, ...extra, seq: event.seq });
      }
    } catch (error) {
      this.logger.warn({ err: error }, 'chat:resume stopped');
    } finally {
      await socket.leave(room);
      this.metrics?.streamClosed('socketio');
    }
  }

  private async onAbort(socket: ChatSocket, payload: unknown, ack?: Ack): Promise<void> {
    try {
      this.admit(socket);
      await socket.data.revalidate?.();
      const dto = await validatePayload(AbortRequestDto, payload);
      const running = await this.chat.abort(socket.data.user.id, dto.session_id);
      ack?.({ ok: true, session_id: dto.session_id, running });
    } catch (error) {
      const { status, body } = mapError(error);
      if (status >= 500) this.logger.error({ err: error }, 'chat:abort failed');
      ack?.({ ok: false, ...body, status });
      socket.emit('chat:error', { ...body, status });
    }
  }
}

/** The `client_id` of a payload, if it is a short string (echoed even when validation fails). */
export function clientIdOf(payload: unknown): string | undefined {
  const value =
    payload && typeof payload === 'object' ? (payload as { client_id?: unknown }).client_id : null;
  return typeof value === 'string' && value.length <= 100 ? value : undefined;
}
