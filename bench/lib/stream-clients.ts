import { Agent, request as httpRequest } from 'node:http';
import OpenAI from 'openai';
import { io, type Socket } from 'socket.io-client';
import WebSocket from 'ws';
import { CHAT_MESSAGE } from './app-client';

/** What one streamed reply looked like from the client. */
export interface StreamObservation {
  ok: boolean;
  /** ms from sending the request to the first delta. */
  ttftMs: number;
  /** ms between consecutive deltas. */
  gapsMs: number[];
  /** Expected words that never arrived. */
  dropped: number;
  /** Words that arrived out of order (or twice). */
  reordered: number;
  sessionId: string | null;
  error?: string;
}

/**
 * Checks the deltas of one reply against the simulator's deterministic text `t1 t2 … tN`:
 * every word must arrive exactly once and in order.
 */
export class DeltaChecker {
  private next = 1;
  private lastAt = 0n;
  private firstAt = 0n;
  readonly gaps: number[] = [];
  dropped = 0;
  reordered = 0;

  constructor(
    private readonly start: bigint,
    private readonly tokens: number,
  ) {}

  delta(text: string): void {
    const now = process.hrtime.bigint();
    if (this.firstAt === 0n) this.firstAt = now;
    else this.gaps.push(Number(now - this.lastAt) / 1e6);
    this.lastAt = now;
    for (const word of text.split(/\s+/)) {
      if (!word) continue;
      const n = Number(word.slice(1));
      if (n === this.next) this.next++;
      else if (n > this.next) {
        this.dropped += n - this.next;
        this.next = n + 1;
      } else this.reordered++;
    }
  }

  finish(ok: boolean, sessionId: string | null, error?: string): StreamObservation {
    if (ok && this.next <= this.tokens) this.dropped += this.tokens + 1 - this.next;
    return {
      ok: ok && this.dropped === 0 && this.reordered === 0,
      ttftMs: this.firstAt === 0n ? NaN : Number(this.firstAt - this.start) / 1e6,
      gapsMs: this.gaps,
      dropped: this.dropped,
      reordered: this.reordered,
      sessionId,
      error,
    };
  }
}

/** A client that can run one streamed reply at a time. */
export interface StreamClient {
  stream(sessionId: string | null): Promise<StreamObservation>;
  close(): void;
}

const STREAM_TIMEOUT_MS = 60_000;

/** The openai SDK streaming straight from the simulator (the baseline). */
export function directClient(simulatorUrl: string, tokens: number): StreamClient {
  const sdk = new OpenAI({ apiKey: 'sim-key', baseURL: `${simulatorUrl}/v1`, maxRetries: 0 });
  return {
    async stream() {
      const start = process.hrtime.bigint();
      const check = new DeltaChecker(start, tokens);
      try {
        const stream = await sdk.chat.completions.create(
          {
            model: 'sim-model',
            messages: [{ role: 'user', content: CHAT_MESSAGE }],
            stream: true,
            stream_options: { include_usage: true },
          },
          { timeout: STREAM_TIMEOUT_MS },
        );
        for await (const chunk of stream) {
          const text = chunk.choices[0]?.delta?.content;
          if (text) check.delta(text);
        }
        return check.finish(true, null);
      } catch (error) {
        return check.finish(false, null, (error as Error).message);
      }
    },
    close() {},
  };
}

/** POST /api/chat/stream, reading the event stream (node:http, keep-alive). */
export function sseClient(
  appUrl: string,
  token: string,
  tokens: number,
  agent: Agent,
): StreamClient {
  const url = new URL('/api/chat/stream', appUrl);
  return {
    stream(sessionId) {
      const start = process.hrtime.bigint();
      const check = new DeltaChecker(start, tokens);
      const body = JSON.stringify(
        sessionId ? { message: CHAT_MESSAGE, session_id: sessionId } : { message: CHAT_MESSAGE },
      );
      return new Promise((resolve) => {
        let session: string | null = null;
        let settled = false;
        let lastId = 0;
        const settle = (ok: boolean, error?: string) => {
          if (settled) return;
          settled = true;
          resolve(check.finish(ok, session, error));
        };
        const req = httpRequest(
          {
            agent,
            host: url.hostname,
            port: url.port,
            method: 'POST',
            path: url.pathname,
            headers: {
              authorization: `Bearer ${token}`,
              'content-type': 'application/json',
              'content-length': String(Buffer.byteLength(body)),
              accept: 'text/event-stream',
            },
            timeout: STREAM_TIMEOUT_MS,
          },
          (res) => {
            if (res.statusCode !== 200) {
              res.resume();
              settle(false, `HTTP ${res.statusCode}`);
              return;
            }
            res.setEncoding('utf8');
            let buffer = '';
            res.on('data', (chunk: string) => {
              buffer += chunk;
              let end: number;
              while ((end = buffer.indexOf('\n\n')) >= 0) {
                const block = buffer.slice(0, end);
                buffer = buffer.slice(end + 2);
                let event = 'message';
                let data = '';
                let id = 0;
                for (const line of block.split('\n')) {
                  if (line.startsWith('event: ')) event = line.slice(7);
                  else if (line.startsWith('data: ')) data += line.slice(6);
                  else if (line.startsWith('id: ')) id = Number(line.slice(4));
                }
                if (!data) continue; // a comment (heartbeat)
                // Event ids must increase one by one: a gap or a step back is a lost/reordered event.
                if (id !== lastId + 1) check.reordered++;
                lastId = id;
                const payload = JSON.parse(data) as {
                  text?: string;
                  session_id?: string;
                  detail?: string;
                };
                if (event === 'start') session = payload.session_id ?? null;
                else if (event === 'delta') check.delta(payload.text ?? '');
                else if (event === 'done') settle(true);
                else if (event === 'error') settle(false, payload.detail);
              }
            });
            res.on('end', () => settle(false, 'stream ended without done'));
            res.on('error', (error) => settle(false, error.message));
          },
        );
        req.on('timeout', () => req.destroy(new Error('timeout')));
        req.on('error', (error) => settle(false, error.message));
        req.end(body);
      });
    },
    close() {},
  };
}

/** Plain WebSocket `ws://…/api/chat/ws?token=…`: one connection, replies one after another. */
export async function wsClient(
  appUrl: string,
  token: string,
  tokens: number,
): Promise<StreamClient> {
  const ws = new WebSocket(
    `${appUrl.replace(/^http/, 'ws')}/api/chat/ws?token=${encodeURIComponent(token)}`,
  );
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) =>
      reject(new Error(`WS upgrade ${res.statusCode}`)),
    );
  });
  let current: ((frame: Record<string, unknown>) => void) | undefined;
  ws.on('message', (data: Buffer) =>
    current?.(JSON.parse(data.toString('utf8')) as Record<string, unknown>),
  );
  ws.on('error', () => undefined);
  let counter = 0;
  return {
    stream(sessionId) {
      const clientId = `c${++counter}`;
      const start = process.hrtime.bigint();
      const check = new DeltaChecker(start, tokens);
      return new Promise((resolve) => {
        let session: string | null = null;
        const timer = setTimeout(() => finish(false, 'timeout'), STREAM_TIMEOUT_MS);
        const onClose = () => finish(false, 'connection closed');
        const finish = (ok: boolean, error?: string) => {
          clearTimeout(timer);
          ws.off('close', onClose);
          current = undefined;
          resolve(check.finish(ok, session, error));
        };
        current = (frame) => {
          if (frame.client_id !== clientId) return;
          if (frame.type === 'start') session = (frame.session_id as string) ?? null;
          else if (frame.type === 'delta') {
            check.delta(typeof frame.text === 'string' ? frame.text : '');
          } else if (frame.type === 'done') finish(true);
          else if (frame.type === 'error') finish(false, String(frame.detail));
        };
        ws.once('close', onClose);
        ws.send(
          JSON.stringify({
            message: CHAT_MESSAGE,
            client_id: clientId,
            ...(sessionId ? { session_id: sessionId } : {}),
          }),
        );
      });
    },
    close() {
      ws.terminate();
    },
  };
}

/** Opens a Socket.IO connection to the `/chat` namespace (WebSocket transport, no reconnection). */
export function connectSocket(appUrl: string, token: string, timeoutMs = 30_000): Promise<Socket> {
  const socket = io(`${appUrl}/chat`, {
    auth: { token },
    transports: ['websocket'],
    reconnection: false,
    forceNew: true,
    timeout: timeoutMs,
  });
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', (error) => {
      socket.close();
      reject(error);
    });
  });
}

/** Socket.IO `chat:send` with an ack, then `chat:delta`… `chat:done` for its client_id. */
export async function socketIoClient(
  appUrl: string,
  token: string,
  tokens: number,
): Promise<StreamClient> {
  const socket = await connectSocket(appUrl, token);
  let current: ((event: string, payload: Record<string, unknown>) => void) | undefined;
  for (const event of ['chat:start', 'chat:delta', 'chat:done', 'chat:error']) {
    socket.on(event, (payload: Record<string, unknown>) => current?.(event, payload));
  }
  let counter = 0;
  return {
    stream(sessionId) {
      const clientId = `c${++counter}`;
      const start = process.hrtime.bigint();
      const check = new DeltaChecker(start, tokens);
      return new Promise((resolve) => {
        let session: string | null = null;
        const timer = setTimeout(() => finish(false, 'timeout'), STREAM_TIMEOUT_MS);
        const onDisconnect = () => finish(false, 'disconnected');
        const finish = (ok: boolean, error?: string) => {
          clearTimeout(timer);
          socket.off('disconnect', onDisconnect);
          current = undefined;
          resolve(check.finish(ok, session, error));
        };
        current = (event, payload) => {
          if (payload.client_id !== clientId) return;
          if (event === 'chat:start') session = (payload.session_id as string) ?? null;
          else if (event === 'chat:delta') {
            check.delta(typeof payload.text === 'string' ? payload.text : '');
          } else if (event === 'chat:done') finish(true);
          else if (event === 'chat:error') finish(false, String(payload.detail));
        };
        socket.once('disconnect', onDisconnect);
        socket.emit('chat:send', {
          message: CHAT_MESSAGE,
          client_id: clientId,
          ...(sessionId ? { session_id: sessionId } : {}),
        });
      });
    },
    close() {
      socket.close();
    },
  };
}
