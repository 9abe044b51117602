import OpenAI from 'openai';
import { type AutocannonRequest, type AutocannonTarget, HttpClient } from './http-load';

/** The shared password of every benchmark account. */
export const BENCH_PASSWORD = 'bench-password-123';

/** Logs in through the real API and returns the access token. */
export async function login(client: HttpClient, email: string, password = BENCH_PASSWORD) {
  const res = await client.request('POST', '/api/auth/login', {
    body: JSON.stringify({ email, password }),
  });
  if (res.status !== 200) throw new Error(`login ${email}: ${res.status} ${res.body}`);
  return (JSON.parse(res.body) as { access_token: string }).access_token;
}

/**
 * Registers `count` accounts `<prefix><n>@bench.local` and logs each in (through the real API,
 * `concurrency` at a time); returns their access tokens in order.
 */
export async function createUsers(
  client: HttpClient,
  count: number,
  prefix: string,
  concurrency = 8,
): Promise<string[]> {
  const tokens = new Array<string>(count);
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      const email = `${prefix}${i + 1}@bench.local`;
      const res = await client.request('POST', '/api/auth/register', {
        body: JSON.stringify({ email, password: BENCH_PASSWORD }),
      });
      if (res.status !== 201 && res.status !== 409) {
        throw new Error(`register ${email}: ${res.status} ${res.body}`);
      }
      tokens[i] = await login(client, email);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  return tokens;
}

/** Logs in `count` accounts that bench/seed-history.ts created (`<prefix><n>@bench.local`). */
export async function loginSeeded(
  client: HttpClient,
  count: number,
  prefix: string,
  concurrency = 8,
): Promise<string[]> {
  const tokens = new Array<string>(count);
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      tokens[i] = await login(client, `${prefix}${i + 1}@bench.local`);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  return tokens;
}

/**
 * One scrape of the app's `GET /metrics`: every sample keyed by `name` or `name{labels}`.
 * (A scrape resets prom-client's event-loop delay histogram: read what you need from one.)
 */
export async function scrapeMetrics(client: HttpClient): Promise<Map<string, number>> {
  const res = await client.request('GET', '/metrics');
  if (res.status !== 200) throw new Error(`GET /metrics: ${res.status}`);
  const samples = new Map<string, number>();
  for (const line of res.body.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const space = line.lastIndexOf(' ');
    samples.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return samples;
}

/**
 * Chat sessions for concurrent load: a session is never used by two requests at once (the app
 * answers 409 for that) and is continued for `turnsPerSession` turns, so every request but the
 * first of each chain loads a session and its earlier messages as context.
 */
export class ChatSessionPool {
  private readonly free: ChatSlot[] = [];
  private nextToken = 0;

  constructor(
    private readonly tokens: string[],
    private readonly turnsPerSession: number,
  ) {}

  take(): ChatSlot {
    return (
      this.free.pop() ?? {
        token: this.tokens[this.nextToken++ % this.tokens.length],
        sessionId: null,
        turns: 0,
      }
    );
  }

  /** Gives a slot back after its request; `sessionId` from a 200 answer (null after a failure). */
  give(slot: ChatSlot, sessionId: string | null): void {
    slot.turns++;
    if (!sessionId || slot.turns >= this.turnsPerSession) {
      slot.sessionId = null;
      slot.turns = 0;
    } else {
      slot.sessionId = sessionId;
    }
    this.free.push(slot);
  }
}

export interface ChatSlot {
  token: string;
  sessionId: string | null;
  turns: number;
}

/** The user message of every benchmark chat request (~70 characters, a typical short prompt). */
export const CHAT_MESSAGE =
  'Hello! In two sentences, what should I check first when an API is slow?';

export function chatBody(sessionId: string | null): string {
  return JSON.stringify(
    sessionId ? { message: CHAT_MESSAGE, session_id: sessionId } : { message: CHAT_MESSAGE },
  );
}

/** session_id of a chat answer, or null. */
export function sessionIdOf(body: string): string | null {
  try {
    const parsed = JSON.parse(body) as { session_id?: unknown };
    return typeof parsed.session_id === 'string' ? parsed.session_id : null;
  } catch {
    return null;
  }
}

/**
 * POST /api/chat on the pool's sessions: each request takes a free slot (its user's token and
 * session) and gives it back with the session of its answer.
 */
export function chatPoolTarget(url: string, pool: ChatSessionPool): AutocannonTarget {
  return {
    url,
    method: 'POST',
    path: '/api/chat',
    headers: { 'content-type': 'application/json' },
    body: chatBody(null),
    setup: (request: AutocannonRequest, context) => {
      const slot = pool.take();
      context.slot = slot;
      return {
        ...request,
        headers: { 'content-type': 'application/json', authorization: `Bearer ${slot.token}` },
        body: chatBody(slot.sessionId),
      };
    },
    onResponse: (status, body, context) => {
      const slot = context.slot as ChatSlot | undefined;
      if (slot) pool.give(slot, status === 200 ? sessionIdOf(body) : null);
    },
  };
}

/** Creates a personal API key of the token's user through POST /api/keys; returns the key. */
export async function createApiKey(
  client: HttpClient,
  token: string,
  scopes: string[],
): Promise<string> {
  const created = await client.request('POST', '/api/keys', {
    headers: { authorization: `Bearer ${token}` },
    body: JSON.stringify({ name: 'bench', scopes }),
  });
  if (created.status !== 201) throw new Error(`POST /api/keys: ${created.status} ${created.body}`);
  return (JSON.parse(created.body) as { key: string }).key;
}

/** The body of the openai SDK's streamed completion with usage, as /v1 clients send it. */
export function v1StreamBody(model: string): string {
  return JSON.stringify({
    model,
    messages: [{ role: 'user', content: CHAT_MESSAGE }],
    stream: true,
    stream_options: { include_usage: true },
  });
}

/** A stateless streamed POST /v1/chat/completions with usage, with a personal API key. */
export function v1StreamTarget(url: string, key: string, model: string): AutocannonTarget {
  return {
    url,
    method: 'POST',
    path: '/v1/chat/completions',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body: v1StreamBody(model),
  };
}

/** The openai SDK's streamed completion with usage (what /v1 clients send); 200 when text came. */
export const sdkCompletion = (sdk: OpenAI, model: string) => async (): Promise<number> => {
  const stream = await sdk.chat.completions.create({
    model,
    messages: [{ role: 'user', content: CHAT_MESSAGE }],
    stream: true,
    stream_options: { include_usage: true },
  });
  let text = '';
  for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
  return text ? 200 : 500;
};

/**
 * The same SDK call to the simulator (`direct`, its own model name) and to the app's /v1 (`v1`,
 * with a personal API key and the app's name of the simulator's model).
 */
export function sdkCalls(simUrl: string, appUrl: string, key: string, appModel: string) {
  return {
    direct: sdkCompletion(
      new OpenAI({ apiKey: 'sim-key', baseURL: `${simUrl}/v1`, maxRetries: 0 }),
      'sim-model',
    ),
    v1: sdkCompletion(
      new OpenAI({ apiKey: key, baseURL: `${appUrl}/v1`, maxRetries: 0 }),
      appModel,
    ),
  };
}
