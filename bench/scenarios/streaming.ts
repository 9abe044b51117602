import { randomBytes } from 'node:crypto';
import { Agent } from 'node:http';
import { createUsers } from '../lib/app-client';
import { HttpClient } from '../lib/http-load';
import { createBenchDatabase, startApp, startSimulator } from '../lib/processes';
import type { BenchContext, StreamLevel } from '../lib/profile';
import { type LatencySummary, round, Samples, sleep } from '../lib/stats';
import {
  directClient,
  socketIoClient,
  sseClient,
  type StreamClient,
  type StreamObservation,
  wsClient,
} from '../lib/stream-clients';

export type StreamTransport = 'direct' | 'sse' | 'socketio' | 'ws';

export interface StreamPhase {
  transport: StreamTransport;
  concurrency: number;
  /** Most replies in flight at once, as the clients counted them. */
  peakConcurrent: number;
  /** Replies counted (started in the measured window) that arrived whole and in order. */
  streams: number;
  failed: number;
  dropped: number;
  reordered: number;
  ttft: LatencySummary;
  gap: LatencySummary;
  /** Words per second delivered to all clients together. */
  deltasPerSecond: number;
  /** App CPU while the phase ran, in % of one core (not for `direct`). */
  appCpuPercent?: number;
  /** ttft / gap minus the direct stream's at the same concurrency, ms (not for `direct`). */
  addedTtftP50?: number;
  addedTtftP99?: number;
  addedGapP50?: number;
  addedGapP99?: number;
  firstError?: string;
}

export interface StreamLevelResult {
  concurrency: number;
  tokensPerReply: number;
  chunkDelayMs: number;
  phases: StreamPhase[];
}

export type StreamingResult = StreamLevelResult[];

/**
 * Time to first token and inter-token gap through SSE, Socket.IO and plain WebSocket vs the
 * simulator's own stream read with the openai SDK, at each concurrency level: N clients stream
 * at once and every reply is checked word by word for drops and reordering. Each level gets its
 * own simulator pace (so 1,000 streams stay within what the simulator and this load generator
 * can carry), hence its own simulator and app process, on one database and one secret so the
 * users and tokens carry over.
 */
export async function runStreaming(ctx: BenchContext): Promise<StreamingResult> {
  const levels = ctx.profile.streaming;
  const maxClients = Math.max(...levels.map((level) => level.concurrency));
  const db = await createBenchDatabase('sqlite');
  const secret = randomBytes(32).toString('hex');
  let userTokens: string[] = [];
  const results: StreamLevelResult[] = [];
  try {
    for (const level of levels) {
      const sim = await startSimulator({ chunkDelayMs: level.chunkDelayMs, tokens: level.tokens });
      const app = await startApp({
        entry: ctx.appEntry,
        nodeArgs: ctx.appNodeArgs,
        databaseUrl: db.url,
        bcryptRounds: 4,
        simulatorUrl: sim.url,
        env: { SECRET_KEY: secret },
      });
      try {
        if (userTokens.length === 0) {
          ctx.log(
            `streaming: ${maxClients} users (one per Socket.IO client: events go to all of a user's sockets)`,
          );
          const http = new HttpClient(app.url);
          userTokens = await createUsers(http, maxClients, 'stream-', 16);
          http.close();
        }
        const phases: StreamPhase[] = [];
        let direct: StreamPhase | undefined;
        for (const transport of ['direct', 'sse', 'socketio', 'ws'] as const) {
          ctx.log(
            `streaming: ${level.concurrency} concurrent ${transport} streams (${level.tokens} words, ${level.chunkDelayMs} ms apart)`,
          );
          const phase = await runPhase({
            transport,
            level,
            appUrl: app.url,
            simulatorUrl: sim.url,
            userTokens,
            cpu: transport === 'direct' ? undefined : app.proc,
          });
          if (transport === 'direct') direct = phase;
          else if (direct) {
            phase.addedTtftP50 = round(phase.ttft.p50 - direct.ttft.p50);
            phase.addedTtftP99 = round(phase.ttft.p99 - direct.ttft.p99);
            phase.addedGapP50 = round(phase.gap.p50 - direct.gap.p50);
            phase.addedGapP99 = round(phase.gap.p99 - direct.gap.p99);
          }
          phases.push(phase);
        }
        results.push({
          concurrency: level.concurrency,
          tokensPerReply: level.tokens,
          chunkDelayMs: level.chunkDelayMs,
          phases,
        });
      } finally {
        await app.stop();
        await sim.proc.stop();
      }
    }
    return results;
  } finally {
    await db.drop();
  }
}

export async function runPhase(options: {
  transport: StreamTransport;
  level: StreamLevel;
  appUrl: string;
  simulatorUrl: string;
  userTokens: string[];
  cpu?: { cpuMs(): number };
}): Promise<StreamPhase> {
  const { transport, level } = options;
  const { concurrency, tokens } = level;
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency + 10 });
  const clients: StreamClient[] = [];
  // Connections are opened before the clock starts (in batches, like users arriving).
  for (let i = 0; i < concurrency; i += 100) {
    const batch = Array.from({ length: Math.min(100, concurrency - i) }, (_, k) => {
      const token = options.userTokens[i + k];
      switch (transport) {
        case 'direct':
          return Promise.resolve(directClient(options.simulatorUrl, tokens));
        case 'sse':
          return Promise.resolve(sseClient(options.appUrl, token, tokens, agent));
        case 'socketio':
          return socketIoClient(options.appUrl, token, tokens);
        case 'ws':
          return wsClient(options.appUrl, token, tokens);
      }
    });
    clients.push(...(await Promise.all(batch)));
  }

  const ttft = new Samples();
  const gaps = new Samples();
  let streams = 0;
  let failed = 0;
  let dropped = 0;
  let reordered = 0;
  let words = 0;
  let active = 0;
  let peakActive = 0;
  let firstError: string | undefined;
  const rampMs = level.rampSeconds * 1000;
  const start = Date.now();
  // Looping clients: replies started in the window after the ramp count. One-shot clients: all.
  const countFrom = level.repliesPerClient ? start : start + rampMs;
  const stopStartingAt = level.repliesPerClient
    ? Infinity
    : countFrom + (level.seconds ?? 5) * 1000;
  const cpuBefore = options.cpu?.cpuMs() ?? NaN;

  const record = (obs: StreamObservation, startedAt: number) => {
    if (startedAt < countFrom) return;
    if (!obs.ok) {
      failed++;
      firstError ??=
        obs.error ?? (obs.dropped || obs.reordered ? 'dropped/reordered delta' : 'failed');
    } else streams++;
    dropped += obs.dropped;
    reordered += obs.reordered;
    if (Number.isFinite(obs.ttftMs)) ttft.add(obs.ttftMs);
    gaps.addAll(obs.gapsMs);
    words += obs.gapsMs.length + (Number.isFinite(obs.ttftMs) ? 1 : 0);
  };

  const run = async (client: StreamClient, index: number) => {
    // Spread the clients' first replies over the ramp, so they are not in lockstep.
    await sleep((index / concurrency) * rampMs);
    let sessionId: string | null = null;
    let turns = 0;
    for (let reply = 0; ; reply++) {
      if (level.repliesPerClient ? reply >= level.repliesPerClient : Date.now() >= stopStartingAt) {
        break;
      }
      const startedAt = Date.now();
      active++;
      peakActive = Math.max(peakActive, active);
      const obs = await client.stream(sessionId);
      active--;
      record(obs, startedAt);
      turns++;
      if (!obs.ok || turns >= 5) {
        sessionId = null;
        turns = 0;
      } else sessionId = obs.sessionId;
    }
  };
  await Promise.all(clients.map(run));
  const elapsedMs = Date.now() - start;
  const countedMs = Date.now() - countFrom;
  const cpuUsed = (options.cpu?.cpuMs() ?? NaN) - cpuBefore;
  for (const client of clients) client.close();
  agent.destroy();
  await sleep(200);

  return {
    transport,
    concurrency,
    peakConcurrent: peakActive,
    streams,
    failed,
    dropped,
    reordered,
    ttft: ttft.summary(),
    gap: gaps.summary(),
    deltasPerSecond: round((1000 * words) / countedMs, 0),
    ...(options.cpu ? { appCpuPercent: round((100 * cpuUsed) / elapsedMs, 0) } : {}),
    ...(firstError ? { firstError } : {}),
  };
}
