/* eslint-disable @typescript-eslint/no-explicit-any -- parsed JSON bodies handed to assertions */
import { randomBytes, randomInt } from 'node:crypto';
import { serviceUrl } from '@app/testing';

/**
 * Helpers shared by the suites that run the built app as real processes (multi-instance,
 * nginx, faults): plain `fetch` against any instance, with a per-run client address.
 */

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A user message whose local-provider echo streams for a while (≈ words × LOCAL_DELAY_MS). */
export const longMessage = (words = 300) =>
  Array.from({ length: words }, (_, i) => `word${i}`).join(' ');

/**
 * A client address of its own per run (apps run with TRUST_PROXY=1), so per-IP counters left in
 * the shared Redis by other suites or earlier runs never count against this one.
 */
export const randomClientIp = () => `10.${randomInt(256)}.${randomInt(256)}.${randomInt(1, 255)}`;

/** What every process of a scale-out suite shares: the database, Redis, the secret, one proxy hop. */
export function sharedProcessEnv(databaseUrl: string): Record<string, string> {
  return {
    DATABASE_URL: databaseUrl,
    REDIS_URL: serviceUrl('redis') ?? '',
    SECRET_KEY: randomBytes(32).toString('hex'),
    TRUST_PROXY: '1',
  };
}

export interface ApiResponse {
  status: number;
  headers: Headers;
  body: any;
  text: string;
}

/** One JSON request; never throws on an HTTP status (tests assert it). */
export async function api(
  baseUrl: string,
  method: string,
  path: string,
  options: { token?: string; body?: unknown; headers?: Record<string, string>; ip?: string } = {},
): Promise<ApiResponse> {
  const res = await fetch(new URL(path, baseUrl), {
    method,
    headers: {
      ...(options.body !== undefined ? { 'Content-Type': 'application/json' } : {}),
      ...(options.token ? { Authorization: `Bearer ${options.token}` } : {}),
      ...(options.ip ? { 'X-Forwarded-For': options.ip } : {}),
      ...options.headers,
    },
    body: options.body !== undefined ? JSON.stringify(options.body) : undefined,
    signal: AbortSignal.timeout(30_000),
  });
  const text = await res.text();
  let body: any = text;
  try {
    body = JSON.parse(text);
  } catch {
    // Not JSON: keep the text.
  }
  return { status: res.status, headers: res.headers, body, text };
}

export interface ApiUser {
  id: string;
  email: string;
  token: string;
}

/** Registers (on `registerUrl`) and logs in (on `loginUrl`) a fresh user, from `ip`. */
export async function newUser(
  registerUrl: string,
  loginUrl: string = registerUrl,
  ip = randomClientIp(),
): Promise<ApiUser> {
  const email = `proc-${randomBytes(6).toString('hex')}@example.com`;
  const password = 'correct horse battery staple';
  const registered = await api(registerUrl, 'POST', '/api/auth/register', {
    body: { email, password },
    ip,
  });
  if (registered.status !== 201) {
    throw new Error(`register: ${registered.status} ${registered.text}`);
  }
  const login = await api(loginUrl, 'POST', '/api/auth/login', {
    body: { email, password },
    ip,
  });
  if (login.status !== 200) throw new Error(`login: ${login.status} ${login.text}`);
  return { id: String(registered.body.id), email, token: login.body.access_token };
}

/**
 * The messages of a session once its last reply is no longer `pending` (polled, bounded).
 */
export async function settledMessages(
  baseUrl: string,
  token: string,
  sessionId: string,
  timeoutMs = 10_000,
): Promise<any[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await api(baseUrl, 'GET', `/api/history/${sessionId}?per_page=100`, { token });
    if (res.status !== 200) throw new Error(`history: ${res.status} ${res.text}`);
    const last = res.body.messages.at(-1);
    if (last && last.status !== 'pending') return res.body.messages;
    if (Date.now() > deadline) throw new Error(`reply of ${sessionId} still pending`);
    await sleep(200);
  }
}

/** Polls `check` until it returns true (bounded); throws with `what` on timeout. */
export async function eventually(
  what: string,
  check: () => Promise<boolean>,
  timeoutMs = 15_000,
  intervalMs = 200,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await check()) return;
    } catch {
      // Not yet.
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await sleep(intervalMs);
  }
}
