import type { Socket } from 'socket.io-client';
import { createUsers, scrapeMetrics } from '../lib/app-client';
import { HttpClient } from '../lib/http-load';
import { createBenchDatabase, startApp } from '../lib/processes';
import type { BenchContext } from '../lib/profile';
import { round, sleep } from '../lib/stats';
import { connectSocket } from '../lib/stream-clients';

export interface SocketsResult {
  /** Connections asked for / open at the end of the hold (as the client and the app count them). */
  requested: number;
  connected: number;
  serverGauge: number;
  /** Connections that dropped while idle. */
  disconnectedWhileIdle: number;
  connectSeconds: number;
  connectsPerSecond: number;
  rssBeforeMb: number;
  rssAfterMb: number;
  heapBeforeMb: number;
  heapAfterMb: number;
  /** (RSS after − before) / connections: what one idle connection costs the process. */
  rssPerConnectionKb: number;
  heapPerConnectionKb: number;
  /** GET /health/live while they are all open. */
  healthWithAllOpenMs: number;
  firstError?: string;
}

/**
 * Idle-but-open Socket.IO connections (namespace /chat, authenticated, WebSocket transport) that
 * one app process holds, and the memory each costs it (RSS and V8 heap, before vs after).
 */
export async function runSockets(ctx: BenchContext): Promise<SocketsResult> {
  const target = ctx.profile.idleSockets;
  const db = await createBenchDatabase('sqlite');
  const app = await startApp({
    entry: ctx.appEntry,
    nodeArgs: ctx.appNodeArgs,
    databaseUrl: db.url,
    bcryptRounds: 4,
  });
  const http = new HttpClient(app.url);
  const sockets: Socket[] = [];
  try {
    const tokens = await createUsers(http, 10, 'idle-');
    // A few connections first, so lazily loaded code and buffers are not counted per connection.
    const warm = await Promise.all(tokens.map((token) => connectSocket(app.url, token)));
    for (const socket of warm) socket.close();
    await sleep(1_000);
    const before = await memory(http, app.proc.rssKb());

    ctx.log(`sockets: opening ${target} idle Socket.IO connections`);
    let disconnected = 0;
    let firstError: string | undefined;
    const started = Date.now();
    const batch = 200;
    for (let i = 0; i < target; i += batch) {
      const results = await Promise.allSettled(
        Array.from({ length: Math.min(batch, target - i) }, (_, k) =>
          connectSocket(app.url, tokens[(i + k) % tokens.length]),
        ),
      );
      for (const result of results) {
        if (result.status === 'fulfilled') {
          sockets.push(result.value);
          result.value.on('disconnect', () => disconnected++);
        } else firstError ??= String(result.reason);
      }
    }
    const connectSeconds = (Date.now() - started) / 1000;
    // Let the handshakes' garbage go before measuring what the open connections keep.
    await sleep(target >= 1_000 ? 3_000 : 1_000);
    const after = await memory(http, app.proc.rssKb());
    const healthStart = process.hrtime.bigint();
    const health = await http.request('GET', '/health/live');
    const healthWithAllOpenMs = Number(process.hrtime.bigint() - healthStart) / 1e6;
    if (health.status !== 200) firstError ??= `health ${health.status}`;
    const metrics = await scrapeMetrics(http);
    const connected = sockets.filter((socket) => socket.connected).length;
    return {
      requested: target,
      connected,
      serverGauge: metrics.get('chatbot_active_sockets{transport="socketio"}') ?? NaN,
      disconnectedWhileIdle: disconnected,
      connectSeconds: round(connectSeconds),
      connectsPerSecond: round(sockets.length / connectSeconds, 0),
      rssBeforeMb: round(before.rssKb / 1024, 1),
      rssAfterMb: round(after.rssKb / 1024, 1),
      heapBeforeMb: round(before.heapBytes / 2 ** 20, 1),
      heapAfterMb: round(after.heapBytes / 2 ** 20, 1),
      rssPerConnectionKb: round((after.rssKb - before.rssKb) / Math.max(1, sockets.length), 1),
      heapPerConnectionKb: round(
        (after.heapBytes - before.heapBytes) / 1024 / Math.max(1, sockets.length),
        1,
      ),
      healthWithAllOpenMs: round(healthWithAllOpenMs),
      ...(firstError ? { firstError } : {}),
    };
  } finally {
    for (const socket of sockets) socket.close();
    http.close();
    await app.stop();
    await db.drop();
  }
}

async function memory(http: HttpClient, rssKb: number) {
  const metrics = await scrapeMetrics(http);
  return { rssKb, heapBytes: metrics.get('nodejs_heap_size_used_bytes') ?? NaN };
}
