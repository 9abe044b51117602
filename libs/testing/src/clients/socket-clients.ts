/* eslint-disable @typescript-eslint/no-explicit-any -- test clients hand parsed JSON to assertions, like supertest's res.body */
import { io, ManagerOptions, Socket, SocketOptions } from 'socket.io-client';
import { WebSocket } from 'ws';

/** How the access token is presented in the Socket.IO handshake. */
export type TokenPlacement = 'auth' | 'header' | 'query';

/**
 * Connects a socket.io-client to the `/chat` namespace (websocket transport, no reconnection)
 * and resolves once connected; rejects with the `connect_error` (its message is the reason).
 */
export function connectChatSocket(
  baseUrl: string,
  token: string | undefined,
  placement: TokenPlacement = 'auth',
  options: Partial<ManagerOptions & SocketOptions> = {},
): Promise<Socket> {
  const socket = io(`${baseUrl}/chat`, {
    transports: ['websocket'],
    reconnection: false,
    forceNew: true,
    timeout: 5_000,
    ...(token && placement === 'auth' ? { auth: { token } } : {}),
    ...(token && placement === 'header'
      ? { extraHeaders: { Authorization: `Bearer ${token}` } }
      : {}),
    ...(token && placement === 'query' ? { query: { token } } : {}),
    ...options,
  });
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', (error) => {
      socket.close();
      reject(error);
    });
  });
}

/** Records every event a socket receives, in order, for assertions. */
export function recordSocketEvents(socket: Socket): { event: string; payload: any }[] {
  const received: { event: string; payload: any }[] = [];
  socket.onAny((event: string, payload: unknown) => received.push({ event, payload }));
  return received;
}

/** Resolves with the next payload of `event` that matches `predicate`. */
export function nextSocketEvent<T = any>(
  socket: Socket,
  event: string,
  predicate: (payload: T) => boolean = () => true,
  timeoutMs = 10_000,
): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.off(event, listener);
      reject(new Error(`No "${event}" within ${timeoutMs} ms`));
    }, timeoutMs);
    const listener = (payload: T) => {
      if (!predicate(payload)) return;
      clearTimeout(timer);
      socket.off(event, listener);
      resolve(payload);
    };
    socket.on(event, listener);
  });
}

/** A plain WebSocket client that keeps every JSON frame and can wait for one. */
export interface ChatWsClient {
  ws: WebSocket;
  frames: any[];
  send(frame: unknown): void;
  /** The next frame (received from now on, or already received and not yet taken) matching. */
  next(predicate: (frame: any) => boolean, timeoutMs?: number): Promise<any>;
  close(): Promise<void>;
}

/**
 * Opens `ws://…/api/chat/ws?token=…`. Rejects with `{status, body}` when the server refuses the
 * upgrade (e.g. 401), so tests can assert the handshake error.
 */
export function openChatWs(
  baseUrl: string,
  token: string | undefined,
  headers: Record<string, string> = {},
): Promise<ChatWsClient> {
  const url = new URL('/api/chat/ws', baseUrl.replace(/^http/, 'ws'));
  if (token) url.searchParams.set('token', token);
  const ws = new WebSocket(url, { headers });
  const frames: any[] = [];
  const waiters: { predicate: (frame: any) => boolean; resolve: (frame: any) => void }[] = [];
  let cursor = 0;
  ws.on('message', (data) => {
    const frame = JSON.parse((data as Buffer).toString('utf8'));
    frames.push(frame);
    const waiter = waiters.find((w) => w.predicate(frame));
    if (waiter) {
      waiters.splice(waiters.indexOf(waiter), 1);
      cursor = frames.length;
      waiter.resolve(frame);
    }
  });
  const client: ChatWsClient = {
    ws,
    frames,
    send: (frame) => ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame)),
    next: (predicate, timeoutMs = 10_000) => {
      const index = frames.findIndex((frame, i) => i >= cursor && predicate(frame));
      if (index >= 0) {
        cursor = index + 1;
        return Promise.resolve(frames[index]);
      }
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`No matching WebSocket frame within ${timeoutMs} ms`)),
          timeoutMs,
        );
        waiters.push({
          predicate,
          resolve: (frame) => {
            clearTimeout(timer);
            resolve(frame);
          },
        });
      });
    },
    close: () =>
      new Promise((resolve) => {
        if (ws.readyState === WebSocket.CLOSED) return resolve();
        ws.once('close', () => resolve());
        ws.close();
      }),
  };
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(client));
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => {
        let parsed: unknown = body;
        try {
          parsed = JSON.parse(body);
        } catch {
          // keep text
        }
        reject(
          Object.assign(new Error(`upgrade refused: ${res.statusCode}`), {
            status: res.statusCode,
            body: parsed,
          }),
        );
      });
    });
    ws.once('error', reject);
  });
}

/**
 * The Socket.IO and WebSocket chat clients a suite opens for its users, kept so that one call
 * closes them all (in `afterEach` or `afterAll`). `appUrl` gives the suite's app (read when a
 * client opens, so it may be set in `beforeAll`).
 */
export class ChatClients {
  private readonly sockets: Socket[] = [];
  private readonly wsClients: ChatWsClient[] = [];

  constructor(private readonly appUrl: () => string) {}

  /** {@link connectChatSocket} for `user` (to `baseUrl`, by default the suite's app). */
  async socket(
    user: { token: string },
    baseUrl = this.appUrl(),
    placement?: TokenPlacement,
  ): Promise<Socket> {
    const socket = await connectChatSocket(baseUrl, user.token, placement);
    this.sockets.push(socket);
    return socket;
  }

  /** {@link openChatWs} for `user` (to the suite's app). */
  async ws(user: { token: string }): Promise<ChatWsClient> {
    const client = await openChatWs(this.appUrl(), user.token);
    this.wsClients.push(client);
    return client;
  }

  /** Closes every client opened since the last call. */
  async closeAll(): Promise<void> {
    for (const socket of this.sockets.splice(0)) socket.close();
    await Promise.all(this.wsClients.splice(0).map((client) => client.close()));
  }
}
