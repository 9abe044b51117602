import type { IncomingMessage, Server as HttpServer } from 'node:http';
import type { Duplex } from 'node:stream';
import {
  BeforeApplicationShutdown,
  Injectable,
  Logger,
  OnApplicationBootstrap,
  OnApplicationShutdown,
  Optional,
} from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { RawData, WebSocket, WebSocketServer } from 'ws';
import {
  ForbiddenError,
  InvalidInputError,
  isWebSocketOriginAllowed,
  mapError,
  UnauthorizedError,
} from '@app/common';
import { AppConfig } from '@app/config';
import { MetricsService } from '../metrics/metrics.service';
import { eventPayload } from './chat-events';
import type { ChatTurn } from './chat-turn';
import { ChatService } from './chat.service';
import { clientIdOf } from './chat.gateway';
import { AbortRequestDto, ResumeRequestDto } from './dto/chat-request.dto';
import { SocketAuthenticator, type SocketIdentity } from './socket-authenticator';
import {
  ConnectionRateLimiter,
  readChatPayload,
  readToolResultPayload,
  validatePayload,
} from './socket-payload';

/** Path of the plain WebSocket endpoint. */
export const CHAT_WS_PATH = '/api/chat/ws';

interface Connection extends SocketIdentity {
  limiter: ConnectionRateLimiter;
  turns: Set<ChatTurn>;
  /** Ends the connection's resumes when it closes. */
  resumes: AbortController;
}

/**
 * Plain WebSocket chat at `ws://HOST/api/chat/ws?token=<jwt>` (or `Authorization: Bearer`),
 * for clients without Socket.IO. Attached to the HTTP server's `upgrade` event for this path only,
 * so Socket.IO keeps handling `/socket.io`.
 *
 * Handshake: a missing, invalid or expired token is refused before the upgrade with HTTP 401
 * `{"detail": ...}` (403 for a disabled account or a disallowed Origin).
 * Client frames (JSON text): `{"message", "session_id"?, "model"?, "system_prompt"?,
 * "temperature"?, "max_tokens"?, "tools"?, "tool_results"?, "client_id"?}` (an optional
 * `"type": "message"` is accepted; `"type": "tool_result"` requires `tool_results`) or
 * `{"type": "abort", "session_id"}` or `{"type": "resume", "message_id", "after"?}`. Server
 * frames: `{"type": "start"|"delta"|"tool_call"|"tool_result"|"done"|"error", ...SSE payload, "session_id", "client_id",
 * "seq"}`; after abort `{"type": "aborted", "session_id", "running"}`; a resume sends the events
 * after `after`, then the live rest, as the same frames (without `client_id`); an unknown or
 * another user's message is `{"type": "error", "detail", "status": 404}`. Invalid JSON or
 * payload → `{"type": "error", "detail", "status": 400}` and the connection stays open. Closing
 * the connection leaves its running replies (aborted after CHAT__RESUME_WINDOW_MS unless
 * resumed). Frames larger than BODY_LIMIT close the connection (code 1009).
 */
@Injectable()
export class ChatWsServer
  implements OnApplicationBootstrap, BeforeApplicationShutdown, OnApplicationShutdown
{
  private readonly logger = new Logger(ChatWsServer.name);
  private readonly wss: WebSocketServer;
  private httpServer: HttpServer | undefined;
  private keepAlive: NodeJS.Timeout | undefined;
  private readonly alive = new WeakMap<WebSocket, boolean>();
  /** Replies being streamed to WebSocket clients (awaited at shutdown). */
  private readonly streams = new Set<Promise<unknown>>();

  constructor(
    private readonly adapterHost: HttpAdapterHost,
    private readonly authenticator: SocketAuthenticator,
    private readonly chat: ChatService,
    private readonly config: AppConfig,
    @Optional() private readonly metrics?: MetricsService,
  ) {
    this.wss = new WebSocketServer({
      noServer: true,
      maxPayload: parseByteSize(config.http.bodyLimit),
    });
  }

  onApplicationBootstrap(): void {
    this.httpServer = this.adapterHost.httpAdapter.getHttpServer() as HttpServer;
    this.httpServer.on('upgrade', this.onUpgrade);
    // Pings find dead peers (and keep proxies from closing idle connections).
    this.keepAlive = setInterval(() => this.pingAll(), this.config.chat.heartbeatMs);
    this.keepAlive.unref();
  }

  /**
   * Before the HTTP server closes — it waits for every upgraded connection, so open WebSockets
   * would hold the shutdown forever: let running replies finish or be aborted (GenerationRegistry
   * applies SHUTDOWN_GRACE_MS) so their last frames are sent, then close every connection.
   */
  async beforeApplicationShutdown(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const bound = new Promise((resolve) => {
      timer = setTimeout(resolve, this.config.chat.shutdownGraceMs + 10_000);
    });
    await Promise.race([Promise.allSettled([...this.streams]), bound]);
    clearTimeout(timer);
    await this.onApplicationShutdown();
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.keepAlive);
    this.httpServer?.off('upgrade', this.onUpgrade);
    for (const client of this.wss.clients) client.close(1001, 'Server shutting down');
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }

  private readonly onUpgrade = (request: IncomingMessage, socket: Duplex, head: Buffer): void => {
    const url = new URL(request.url ?? '/', 'http://localhost');
    if (url.pathname !== CHAT_WS_PATH) return; // Socket.IO (or nobody) handles other paths.
    socket.on('error', () => socket.destroy());
    this.authenticate(request, url).then(
      (connection) => {
        this.wss.handleUpgrade(request, socket, head, (ws) => this.onConnection(ws, connection));
      },
      (error: unknown) => {
        const { status, body } = mapError(error);
        rejectUpgrade(socket, status, body.detail);
      },
    );
  };

  private async authenticate(request: IncomingMessage, url: URL): Promise<Connection> {
    const { origin, host } = request.headers;
    if (!isWebSocketOriginAllowed(origin, host, this.config.http.corsOrigins)) {
      throw new ForbiddenError('Origin not allowed');
    }
    return {
      ...(await this.authenticator.webSocket(request, url)),
      limiter: new ConnectionRateLimiter(this.config.rateLimit.defaultPerMinute),
      turns: new Set(),
      resumes: new AbortController(),
    };
  }

  private onConnection(ws: WebSocket, connection: Connection): void {
    this.metrics?.socketConnected('ws');
    this.alive.set(ws, true);
    ws.on('pong', () => this.alive.set(ws, true));
    ws.on('message', (data: RawData, isBinary: boolean) => {
      void this.onFrame(ws, connection, data, isBinary);
    });
    ws.on('error', (error) => this.logger.debug({ err: error }, 'WebSocket error'));
    ws.on('close', () => {
      this.metrics?.socketDisconnected('ws');
      connection.resumes.abort();
      for (const turn of connection.turns) turn.leave();
    });
  }

  private async onFrame(
    ws: WebSocket,
    connection: Connection,
    data: RawData,
    isBinary: boolean,
  ): Promise<void> {
    let payload: unknown;
    let read = readChatPayload;
    try {
      if (Date.now() / 1000 >= connection.expiresAt) {
        throw new UnauthorizedError('Access token has expired; reconnect with a new one');
      }
      connection.limiter.hit();
      await connection.revalidate?.();
      if (isBinary) throw new InvalidInputError('Frames must be JSON text');
      try {
        payload = JSON.parse(rawToString(data));
      } catch {
        throw new InvalidInputError('Malformed JSON frame');
      }
      if (payload && typeof payload === 'object' && !Array.isArray(payload)) {
        const { type, ...rest } = payload as { type?: unknown };
        if (type === 'abort') {
          const dto = await validatePayload(AbortRequestDto, rest);
          const running = await this.chat.abort(connection.user.id, dto.session_id);
          send(ws, { type: 'aborted', session_id: dto.session_id, running });
          return;
        }
        if (type === 'resume') {
          const dto = await validatePayload(ResumeRequestDto, rest);
          await this.resume(ws, connection, dto);
          return;
        }
        if (type === 'tool_result') read = readToolResultPayload;
        if (type !== undefined && type !== 'message' && type !== 'tool_result') {
          const message = 'type must be "message", "tool_result", "abort" or "resume"';
          throw new InvalidInputError(message, [{ field: 'type', message }]);
        }
        payload = rest;
      }
    } catch (error) {
      this.sendError(ws, error, clientIdOf(payload));
      return;
    }

    const clientId = clientIdOf(payload);
    let turn: ChatTurn;
    try {
      const input = await read(payload);
      const { user } = connection;
      turn = await this.chat.begin(user.id, input, { apiKey: user.apiKey });
    } catch (error) {
      this.sendError(ws, error, clientId);
      return;
    }
    connection.turns.add(turn);
    this.metrics?.streamOpened('ws');
    const extra = { session_id: turn.sessionId, client_id: clientId };
    try {
      const finished = turn.run((event, seq) =>
        send(ws, { type: event.type, ...eventPayload(event), ...extra, seq }),
      );
      this.streams.add(finished);
      await finished.finally(() => this.streams.delete(finished));
    } finally {
      connection.turns.delete(turn);
      this.metrics?.streamClosed('ws');
    }
  }

  /** Streams a resumed generation to this connection; errors reach the caller's error frame. */
  private async resume(
    ws: WebSocket,
    connection: Connection,
    dto: ResumeRequestDto,
  ): Promise<void> {
    const resumed = await this.chat.resume(
      connection.user.id,
      dto.message_id,
      dto.after ?? 0,
      connection.resumes.signal,
    );
    this.metrics?.streamOpened('ws');
    const extra = { session_id: resumed.sessionId };
    const streaming = (async () => {
      for await (const event of resumed.events) {
        send(ws, { type: event.type, ...event.data, ...extra, seq: event.seq });
      }
    })();
    this.streams.add(streaming);
    try {
      await streaming;
    } catch (error) {
      this.logger.warn({ err: error }, 'WebSocket resume stopped');
    } finally {
      this.streams.delete(streaming);
      this.metrics?.streamClosed('ws');
    }
  }

  private sendError(ws: WebSocket, error: unknown, clientId: string | undefined): void {
    const { status, body } = mapError(error);
    if (status >= 500) this.logger.error({ err: error }, 'WebSocket chat frame failed');
    send(ws, { type: 'error', ...body, status, client_id: clientId });
  }

  private pingAll(): void {
    for (const ws of this.wss.clients) {
      if (this.alive.get(ws) === false) {
        ws.terminate();
        continue;
      }
      this.alive.set(ws, false);
      ws.ping();
    }
  }
}

function send(ws: WebSocket, frame: Record<string, unknown>): void {
  if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(frame));
}

function rawToString(data: RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  if (data instanceof ArrayBuffer) return Buffer.from(data).toString('utf8');
  return data.toString('utf8');
}

const STATUS_TEXT: Record<number, string> = {
  401: 'Unauthorized',
  403: 'Forbidden',
  500: 'Internal Server Error',
};

/** Answers a refused upgrade with a plain HTTP error and the API's `{detail}` body. */
function rejectUpgrade(socket: Duplex, status: number, detail: string): void {
  if (!socket.writable) return;
  const body = JSON.stringify({ detail });
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? 'Error'}\r\n` +
      'Content-Type: application/json\r\n' +
      `Content-Length: ${Buffer.byteLength(body)}\r\n` +
      (status === 401 ? 'WWW-Authenticate: Bearer\r\n' : '') +
      'Connection: close\r\n\r\n' +
      body,
  );
}

/** `1mb`, `512kb`, `100b` → bytes (BODY_LIMIT is validated to this form). */
export function parseByteSize(value: string): number {
  const match = /^(\d+)(b|kb|mb)$/i.exec(value.trim());
  if (!match) return 1024 * 1024;
  const unit = { b: 1, kb: 1024, mb: 1024 * 1024 }[match[2].toLowerCase() as 'b' | 'kb' | 'mb'];
  return Number(match[1]) * unit;
}
