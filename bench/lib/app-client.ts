import { HttpClient } from './http-load';

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
