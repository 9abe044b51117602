/**
 * A Node client for the streaming chat over Socket.IO (namespace /chat).
 *
 *   BASE_URL=http://localhost:8000 npx ts-node examples/node/socketio-client.ts
 *
 * Signs in (EMAIL/PASSWORD, or registers a fresh account), streams one reply token by token,
 * continues the same session, then starts a long reply and stops it with `chat:abort`.
 */
import { io, type Socket } from 'socket.io-client';

const BASE_URL = (process.env.BASE_URL ?? 'http://localhost:8000').replace(/\/+$/, '');

interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  tokens: number;
}
interface SendAck {
  ok: boolean;
  session_id?: string;
  message_id?: string;
  detail?: string;
  status?: number;
}
interface Reply {
  sessionId: string;
  text: string;
  finishReason: string;
  usage?: Usage;
  model?: string;
}

/** POST JSON; throws with the server's `detail` on an error status. */
async function postJson<T>(path: string, body: unknown): Promise<{ status: number; body: T }> {
  const response = await fetch(`${BASE_URL}${path}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
  const payload = (await response.json().catch(() => ({}))) as T & { detail?: string };
  return { status: response.status, body: payload };
}

async function signIn(): Promise<string> {
  const email = process.env.EMAIL ?? `node-${Date.now()}@example.com`;
  const password = process.env.PASSWORD ?? 'a long example passphrase';
  if (!process.env.EMAIL) {
    const registered = await postJson<{ id: string; detail?: string }>('/api/auth/register', {
      email,
      password,
    });
    if (registered.status !== 201) throw new Error(`register: ${registered.body.detail}`);
    console.log(`registered ${email}`);
  }
  const login = await postJson<{ access_token: string; detail?: string }>('/api/auth/login', {
    email,
    password,
  });
  if (login.status !== 200) throw new Error(`login: ${login.body.detail}`);
  console.log(`logged in as ${email}`);
  return login.body.access_token;
}

function connect(token: string): Promise<Socket> {
  // Same origin as the API; the token travels in the handshake's `auth` payload.
  const socket = io(`${BASE_URL}/chat`, { auth: { token }, transports: ['websocket'] });
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve(socket));
    // A bad or expired token ends here with the message "unauthorized".
    socket.once('connect_error', (error) => reject(new Error(`connect: ${error.message}`)));
  });
}

/**
 * Sends one message and resolves when its reply is done. `onDelta` sees each piece of text;
 * `stopAfter` emits `chat:abort` after that many deltas. Events of other requests (other tabs
 * of the same user) are told apart by `client_id`.
 */
function chat(
  socket: Socket,
  message: string,
  options: { sessionId?: string; stopAfter?: number; onDelta?: (text: string) => void } = {},
): Promise<Reply> {
  const clientId = `node-${Math.random().toString(36).slice(2)}`;
  return new Promise((resolve, reject) => {
    let sessionId = options.sessionId ?? '';
    let text = '';
    let deltas = 0;
    let model: string | undefined;
    const off = () => {
      socket.off('chat:start', onStart);
      socket.off('chat:delta', onDelta);
      socket.off('chat:done', onDone);
      socket.off('chat:error', onError);
    };
    const onStart = (event: { session_id: string; model: string; client_id?: string }) => {
      if (event.client_id !== clientId) return;
      sessionId = event.session_id;
      model = event.model;
    };
    const onDelta = (event: { text: string; client_id?: string }) => {
      if (event.client_id !== clientId) return;
      text += event.text;
      deltas++;
      options.onDelta?.(event.text);
      if (deltas === options.stopAfter) socket.emit('chat:abort', { session_id: sessionId });
    };
    const onDone = (event: {
      finish_reason: string;
      usage: Usage;
      model?: string;
      client_id?: string;
    }) => {
      if (event.client_id !== clientId) return;
      off();
      resolve({
        sessionId,
        text,
        finishReason: event.finish_reason,
        usage: event.usage,
        model: event.model ?? model,
      });
    };
    const onError = (event: { detail: string; status: number; client_id?: string }) => {
      if (event.client_id !== clientId) return;
      off();
      reject(new Error(`chat:error ${event.status}: ${event.detail}`));
    };
    socket.on('chat:start', onStart);
    socket.on('chat:delta', onDelta);
    socket.on('chat:done', onDone);
    socket.on('chat:error', onError);

    const payload: Record<string, string> = { message, client_id: clientId };
    if (options.sessionId) payload.session_id = options.sessionId;
    socket.emit('chat:send', payload, (ack: SendAck) => {
      if (ack.ok) {
        sessionId = ack.session_id ?? sessionId;
      } else {
        off();
        reject(new Error(`chat:send refused ${ack.status}: ${ack.detail}`));
      }
    });
  });
}

async function main(): Promise<void> {
  const token = await signIn();
  const socket = await connect(token);
  console.log(`connected to ${BASE_URL}/chat`);
  try {
    process.stdout.write('assistant: ');
    const first = await chat(socket, 'Hello from the Node Socket.IO example!', {
      onDelta: (text) => process.stdout.write(text),
    });
    process.stdout.write('\n');
    console.log(
      `reply done: session ${first.sessionId}, model ${first.model}, ` +
        `finish_reason ${first.finishReason}, ${first.usage?.tokens} tokens`,
    );

    const second = await chat(socket, 'And a follow-up in the same session.', {
      sessionId: first.sessionId,
    });
    console.log(`follow-up done in the same session: ${second.sessionId === first.sessionId}`);

    const long = Array.from({ length: 120 }, (_, i) => `word${i}`).join(' ');
    const stopped = await chat(socket, `Repeat after me: ${long}`, {
      sessionId: first.sessionId,
      stopAfter: 3,
    });
    console.log(
      stopped.finishReason === 'aborted'
        ? `stopped after ${stopped.text.length} characters: finish_reason aborted`
        : `the reply finished before the abort arrived: finish_reason ${stopped.finishReason}`,
    );
    console.log('OK');
  } finally {
    socket.disconnect();
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
