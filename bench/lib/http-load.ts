import { Agent, request as httpRequest } from 'node:http';
import autocannon from 'autocannon';
import { type LatencySummary, msSince, round, Samples, sleep } from './stats';

/** One measured load run. Latencies in ms; `rps` counts 2xx answers per second. */
export interface LoadResult {
  /** `saturation` (closed loop, N connections) or the offered rate in req/s. */
  mode: 'saturation' | number;
  connections?: number;
  seconds: number;
  rps: number;
  ok: number;
  /** Answers that were not 2xx, plus transport errors and timeouts. */
  failed: number;
  latency: LatencySummary;
  /** CPU used by the measured server process per 2xx answer, in ms (when it was given). */
  cpuMsPerRequest?: number;
  /** Requests the open-loop generator could not send on time (it was over its in-flight cap). */
  late?: number;
  /** CPU of this (load generator) process per 2xx answer, ms: the client's own cost (SDK runs). */
  clientCpuMsPerRequest?: number;
}

/** What autocannon sends; `setup` may rewrite it per request, `onResponse` sees every answer. */
export interface AutocannonTarget {
  url: string;
  method?: 'GET' | 'POST';
  path: string;
  headers?: Record<string, string>;
  body?: string;
  setup?: (request: AutocannonRequest, context: Record<string, unknown>) => AutocannonRequest;
  onResponse?: (status: number, body: string, context: Record<string, unknown>) => void;
}

export interface AutocannonRequest {
  method?: string;
  path?: string;
  headers?: Record<string, string>;
  body?: string;
}

/** Something whose CPU time can be read (a ManagedProcess). */
export interface CpuMeter {
  cpuMs(): number;
}

/**
 * Closed-loop saturation run with autocannon: `connections` keep one request each in flight.
 * Latencies are taken from autocannon's per-response event (sub-millisecond, not its integer
 * histogram). A warm-up of `warmupSeconds` runs first and is not counted.
 */
export async function saturate(
  target: AutocannonTarget,
  options: { connections: number; seconds: number; warmupSeconds?: number; cpu?: CpuMeter },
): Promise<LoadResult> {
  if (options.warmupSeconds) {
    await runAutocannon(target, options.connections, options.warmupSeconds, new Samples());
  }
  const samples = new Samples();
  const cpuBefore = options.cpu?.cpuMs() ?? NaN;
  const result = await runAutocannon(target, options.connections, options.seconds, samples);
  const cpuUsed = (options.cpu?.cpuMs() ?? NaN) - cpuBefore;
  const ok = result['2xx'];
  return {
    mode: 'saturation',
    connections: options.connections,
    seconds: result.duration,
    rps: round(ok / result.duration, 1),
    ok,
    failed: result.non2xx + result.errors + result.timeouts,
    latency: samples.summary(),
    cpuMsPerRequest: ok > 0 && Number.isFinite(cpuUsed) ? round(cpuUsed / ok, 3) : undefined,
  };
}

async function runAutocannon(
  target: AutocannonTarget,
  connections: number,
  seconds: number,
  samples: Samples,
): Promise<autocannon.Result> {
  const request: autocannon.Request = {
    method: target.method ?? 'GET',
    path: target.path,
    headers: target.headers,
    body: target.body,
  };
  if (target.setup) {
    const setup = target.setup;
    request.setupRequest = (req, context) => setup(req, context);
  }
  if (target.onResponse) {
    const onResponse = target.onResponse;
    request.onResponse = (status, body, context) => onResponse(status, body, context);
  }
  const instance = autocannon({
    url: target.url,
    connections,
    duration: seconds,
    requests: [request],
    timeout: 30,
  });
  instance.on('response', (_client: unknown, status: number, _bytes: number, ms: number) => {
    if (status >= 200 && status < 300) samples.add(ms);
  });
  return instance;
}

/**
 * Open-loop load at a fixed rate: requests are started on a fixed schedule whether or not
 * earlier ones have answered, and each latency is measured from its scheduled start (no
 * coordinated omission). `fire` performs one request and resolves to its HTTP status (or
 * throws). autocannon's own rate limit sends each second's quota as a burst, so this is used
 * for the fixed-load points instead.
 */
export async function openLoop(
  fire: () => Promise<number>,
  options: {
    rate: number;
    seconds: number;
    warmupSeconds?: number;
    maxInFlight?: number;
    cpu?: CpuMeter;
  },
): Promise<LoadResult> {
  if (options.warmupSeconds) {
    await runOpenLoop(fire, { ...options, seconds: options.warmupSeconds });
  }
  const cpuBefore = options.cpu?.cpuMs() ?? NaN;
  const run = await runOpenLoop(fire, options);
  const cpuUsed = (options.cpu?.cpuMs() ?? NaN) - cpuBefore;
  return {
    mode: options.rate,
    seconds: round(run.seconds, 2),
    rps: round(run.ok / run.seconds, 1),
    ok: run.ok,
    failed: run.failed,
    late: run.late,
    latency: run.samples.summary(),
    cpuMsPerRequest:
      run.ok > 0 && Number.isFinite(cpuUsed) ? round(cpuUsed / run.ok, 3) : undefined,
  };
}

async function runOpenLoop(
  fire: () => Promise<number>,
  options: { rate: number; seconds: number; maxInFlight?: number },
): Promise<{ samples: Samples; ok: number; failed: number; late: number; seconds: number }> {
  const samples = new Samples();
  const total = Math.max(1, Math.round(options.rate * options.seconds));
  const intervalMs = 1000 / options.rate;
  const maxInFlight = options.maxInFlight ?? 5_000;
  let ok = 0;
  let failed = 0;
  let late = 0;
  let inFlight = 0;
  let issued = 0;
  const pending = new Set<Promise<void>>();
  const start = process.hrtime.bigint();

  const one = (scheduledAt: number) => {
    inFlight++;
    const promise = fire()
      .then(
        (status) => {
          if (status >= 200 && status < 300) {
            ok++;
            samples.add(msSince(start) - scheduledAt);
          } else {
            failed++;
          }
        },
        () => {
          failed++;
        },
      )
      .finally(() => {
        inFlight--;
        pending.delete(promise);
      });
    pending.add(promise);
  };

  while (issued < total) {
    const now = msSince(start);
    // Start every request whose scheduled time has come (catching up after a slow tick).
    while (issued < total && issued * intervalMs <= now) {
      if (inFlight >= maxInFlight) {
        late++;
      } else {
        one(issued * intervalMs);
      }
      issued++;
    }
    const next = issued * intervalMs - msSince(start);
    await (next > 1 ? sleep(Math.min(next, 50) - 0.5) : new Promise(setImmediate));
  }
  const sentFor = msSince(start);
  // Bounded wait for the stragglers.
  await Promise.race([Promise.all([...pending]), sleep(30_000)]);
  return { samples, ok, failed, late, seconds: Math.max(sentFor, 1) / 1000 };
}

/** A keep-alive HTTP client for the open-loop generator (plain node:http, little overhead). */
export class HttpClient {
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 2_000 });

  constructor(private readonly baseUrl: string) {}

  request(
    method: string,
    path: string,
    options: { headers?: Record<string, string>; body?: string; timeoutMs?: number } = {},
  ): Promise<{ status: number; body: string }> {
    const url = new URL(path, this.baseUrl);
    return new Promise((resolve, reject) => {
      const req = httpRequest(
        {
          agent: this.agent,
          host: url.hostname,
          port: url.port,
          method,
          path: `${url.pathname}${url.search}`,
          headers: {
            ...(options.body !== undefined
              ? {
                  'content-type': 'application/json',
                  'content-length': String(Buffer.byteLength(options.body)),
                }
              : {}),
            ...options.headers,
          },
          timeout: options.timeoutMs ?? 30_000,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
          );
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', reject);
      if (options.body !== undefined) req.write(options.body);
      req.end();
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

/**
 * Closed-loop saturation for a client that is not plain HTTP (the openai SDK): `concurrency`
 * workers each run `fire` back to back for `seconds`; latency is per call.
 */
export async function closedLoop(
  fire: () => Promise<number>,
  options: { concurrency: number; seconds: number; warmupSeconds?: number; cpu?: CpuMeter },
): Promise<LoadResult> {
  const run = async (seconds: number, samples: Samples) => {
    let ok = 0;
    let failed = 0;
    const start = process.hrtime.bigint();
    const deadline = Date.now() + seconds * 1000;
    const worker = async () => {
      while (Date.now() < deadline) {
        const t0 = process.hrtime.bigint();
        try {
          const status = await fire();
          if (status >= 200 && status < 300) {
            ok++;
            samples.add(msSince(t0));
          } else {
            failed++;
          }
        } catch {
          failed++;
        }
      }
    };
    await Promise.all(Array.from({ length: options.concurrency }, worker));
    return { ok, failed, seconds: msSince(start) / 1000 };
  };
  if (options.warmupSeconds) await run(options.warmupSeconds, new Samples());
  const samples = new Samples();
  const cpuBefore = options.cpu?.cpuMs() ?? NaN;
  const ownBefore = process.cpuUsage();
  const result = await run(options.seconds, samples);
  const own = process.cpuUsage(ownBefore);
  const cpuUsed = (options.cpu?.cpuMs() ?? NaN) - cpuBefore;
  return {
    mode: 'saturation',
    connections: options.concurrency,
    seconds: round(result.seconds, 2),
    rps: round(result.ok / result.seconds, 1),
    ok: result.ok,
    failed: result.failed,
    latency: samples.summary(),
    cpuMsPerRequest:
      result.ok > 0 && Number.isFinite(cpuUsed) ? round(cpuUsed / result.ok, 3) : undefined,
    clientCpuMsPerRequest:
      result.ok > 0 ? round((own.user + own.system) / 1000 / result.ok, 3) : undefined,
  };
}
