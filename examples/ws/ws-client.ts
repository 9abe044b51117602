/**
 * A plain WebSocket client (no Socket.IO) for the streaming chat, using the `ws` package.
 *
 *   BASE_URL=http://localhost:8000 npx ts-node examples/ws/ws-client.ts
 *
 * Signs in (EMAIL/PASSWORD, or registers a fresh account), opens
 * ws://HOST/api/chat/ws?token=<jwt>, sends a message, prints the reply as it streams, sends a
 * follow-up in the same session, and closes. Frames are JSON:
 *   client → {"message": "...", "session_id"?: "...", "model"?: "...", "client_id"?: "..."}
 *   server → {"type": "start" | "delta" | "done" | "error", ...}
 */
import WebSocket from 'ws';

const BASE_URL = (process.env.BASE_URL ?? 'http://localhost:8000').replace(/\/+$/, '');

type ServerFrame =
  | { type: 'start'; session_id: string; message_id: string; model: string }
  | { type: 'delta'; text: string }
  | {
      type: 'done';
      message_id: string;
      finish_reason: string;
      usage: { tokens: number };
      model?: string;
    }
  | { type: 'error'; detail: string; status: number }
  | { type: 'aborted'; session_id: string; running: boolean };

async function postJson<T>(path: string, body: unknown): Promise<{ status: number; body: T }> {
  const response = await fetch(`${BASE_URL}${path}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json().catch(() => ({}))) as T };
}

async function signIn(): Promise<string> {
  const email = process.env.EMAIL ?? `ws-${Date.now()}@example.com`;
  const password = process.env.PASSWORD ?? 'a long example passphrase';
  if (!process.env.EMAIL) {
    const r = await postJson<{ detail?: string }>('/api/auth/register', { email, password });
    if (r.status !== 201) throw new Error(`register: ${r.body.detail}`);
    console.log(`registered ${email}`);
  }
  const r = await postJson<{ access_token: string; detail?: string }>('/api/auth/login', {
    email,
    password,
  });
  if (r.status !== 200) throw new Error(`login: ${r.body.detail}`);
  console.log(`logged in as ${email}`);
  return r.body.access_token;
}

function open(token: string): Promise<WebSocket> {
  const url = `${BASE_URL.replace(/^http/, 'ws')}/api/chat/ws?token=${encodeURIComponent(token)}`;
  const socket = new WebSocket(url);
  return new Promise((resolve, reject) => {
    socket.once('open', () => resolve(socket));
    // A bad token is refused before the upgrade: HTTP 401 with {"detail": ...}.
    socket.once('unexpected-response', (_req, res) =>
      reject(new Error(`handshake refused with HTTP ${res.statusCode}`)),
    );
    socket.once('error', reject);
  });
}

/** A text frame's content (`ws` hands over a Buffer, an ArrayBuffer or Buffer fragments). */
function frameText(data: WebSocket.RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return Buffer.from(data as ArrayBuffer).toString('utf8');
}

/** Sends one message and resolves with the session id when its `done` frame arrives. */
function chat(socket: WebSocket, message: string, sessionId?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let session = sessionId ?? '';
    const onMessage = (data: WebSocket.RawData) => {
      const frame = JSON.parse(frameText(data)) as ServerFrame;
      switch (frame.type) {
        case 'start':
          session = frame.session_id;
          process.stdout.write(`assistant (${frame.model}): `);
          break;
        case 'delta':
          process.stdout.write(frame.text);
          break;
        case 'done':
          process.stdout.write('\n');
          console.log(`done: finish_reason ${frame.finish_reason}, ${frame.usage.tokens} tokens`);
          socket.off('message', onMessage);
          resolve(session);
          break;
        case 'error':
          socket.off('message', onMessage);
          reject(new Error(`error frame ${frame.status}: ${frame.detail}`));
          break;
        case 'aborted':
          break;
      }
    };
    socket.on('message', onMessage);
    socket.send(JSON.stringify(sessionId ? { message, session_id: sessionId } : { message }));
  });
}

async function main(): Promise<void> {
  const socket = await open(await signIn());
  console.log(`connected to ${BASE_URL.replace(/^http/, 'ws')}/api/chat/ws`);
  try {
    const sessionId = await chat(socket, 'Hello from the plain WebSocket example!');
    const again = await chat(socket, 'A follow-up on the same socket and session.', sessionId);
    console.log(`session ${sessionId}, follow-up in the same session: ${again === sessionId}`);
    console.log('OK');
  } finally {
    socket.close(1000, 'bye');
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
