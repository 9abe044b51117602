import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { sleep } from './stats';

/** The repository root (bench/lib/../..). */
export const ROOT = resolve(__dirname, '..', '..');

/** Clock ticks per second of /proc/<pid>/stat (USER_HZ, 100 on Linux). */
const CLOCK_TICKS = 100;

/** A child process the benchmark started, with its last output lines for diagnostics. */
export class ManagedProcess {
  private readonly tail: string[] = [];
  private exited = false;
  private readonly exitPromise: Promise<void>;

  constructor(
    readonly name: string,
    readonly child: ChildProcess,
  ) {
    const keep = (chunk: Buffer) => {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (!line.trim()) continue;
        this.tail.push(line);
        if (this.tail.length > 40) this.tail.shift();
      }
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    this.exitPromise = new Promise((resolveExit) => {
      child.once('exit', () => {
        this.exited = true;
        resolveExit();
      });
    });
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  get alive(): boolean {
    return !this.exited;
  }

  get output(): string {
    return this.tail.join('\n');
  }

  /** Waits until a line of stdout matches `pattern`; returns the match. */
  waitForLine(pattern: RegExp, timeoutMs: number): Promise<RegExpExecArray> {
    return new Promise((resolveLine, reject) => {
      let buffer = '';
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`${this.name} not ready after ${timeoutMs} ms:\n${this.output}`));
      }, timeoutMs);
      const onData = (chunk: Buffer) => {
        buffer += chunk.toString('utf8');
        const match = pattern.exec(buffer);
        if (match) {
          cleanup();
          resolveLine(match);
        }
      };
      const onExit = () => {
        cleanup();
        reject(new Error(`${this.name} exited before it was ready:\n${this.output}`));
      };
      const cleanup = () => {
        clearTimeout(timer);
        this.child.stdout?.off('data', onData);
        this.child.off('exit', onExit);
      };
      this.child.stdout?.on('data', onData);
      this.child.once('exit', onExit);
    });
  }

  /** Resident memory in KiB (VmRSS), or NaN once gone. */
  rssKb(): number {
    try {
      const status = readFileSync(`/proc/${this.pid}/status`, 'utf8');
      const match = /VmRSS:\s+(\d+)\s+kB/.exec(status);
      return match ? Number(match[1]) : NaN;
    } catch {
      return NaN;
    }
  }

  /** CPU time (user + system) used so far, in milliseconds; NaN when unavailable. */
  cpuMs(): number {
    try {
      const stat = readFileSync(`/proc/${this.pid}/stat`, 'utf8');
      // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
    } catch {
      return NaN;
    }
  }

  /** SIGTERM, then SIGKILL after `graceMs`. Only this process (never a group or a name). */
  async stop(graceMs = 5_000): Promise<void> {
    if (this.exited) return;
    this.child.kill('SIGTERM');
    const killed = await Promise.race([
      this.exitPromise.then(() => true),
      sleep(graceMs).then(() => false),
    ]);
    if (!killed && !this.exited) {
      this.child.kill('SIGKILL');
      await this.exitPromise;
    }
  }
}

/** Every process started through this module, so a crash or Ctrl-C still stops them. */
const started = new Set<ManagedProcess>();

export function spawnManaged(
  name: string,
  command: string,
  args: string[],
  options: { env: NodeJS.ProcessEnv; cwd?: string },
): ManagedProcess {
  const child = spawn(command, args, {
    cwd: options.cwd ?? ROOT,
    env: options.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const proc = new ManagedProcess(name, child);
  started.add(proc);
  child.once('exit', () => started.delete(proc));
  return proc;
}

/** Stops every process still running (used on exit paths). */
export async function stopAll(): Promise<void> {
  await Promise.all([...started].map((proc) => proc.stop(2_000)));
}

/** A free TCP port on 127.0.0.1 (closed again before it is returned). */
export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolvePort(port));
    });
  });
}

/** The minimal environment for children: no DATABASE_URL/REDIS_URL/… leaking in from the shell. */
export function baseEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME };
  // Honoured when the user sets it: bcrypt's parallelism depends on libuv's thread pool.
  if (process.env.UV_THREADPOOL_SIZE) env.UV_THREADPOOL_SIZE = process.env.UV_THREADPOOL_SIZE;
  return env;
}

/** Runs a bench helper written in TypeScript (ts-node, transpile only) as its own process. */
export function spawnTsHelper(
  name: string,
  file: string,
  args: string[],
  env: NodeJS.ProcessEnv = {},
  nodeArgs: string[] = [],
): ManagedProcess {
  return spawnManaged(
    name,
    process.execPath,
    [
      ...nodeArgs,
      '-r',
      'ts-node/register/transpile-only',
      '-r',
      'tsconfig-paths/register',
      join(ROOT, file),
      ...args,
    ],
    { env: { ...baseEnv(), TS_NODE_PROJECT: join(ROOT, 'tsconfig.json'), ...env } },
  );
}

/** The provider simulator as its own process (bench/simulator-server.ts). */
export async function startSimulator(options: {
  chunkDelayMs: number;
  /** Each wait between chunks varies by up to this either way (default 0: streams in lockstep). */
  chunkJitterMs?: number;
  tokens: number;
}): Promise<{ url: string; proc: ManagedProcess }> {
  const port = await freePort();
  const proc = spawnTsHelper('simulator', 'bench/simulator-server.ts', [
    '--port',
    String(port),
    '--chunk-delay',
    String(options.chunkDelayMs),
    '--chunk-jitter',
    String(options.chunkJitterMs ?? 0),
    '--tokens',
    String(options.tokens),
  ]);
  const match = await proc.waitForLine(/READY (http:\/\/\S+)/, 60_000);
  return { url: match[1], proc };
}

/** A bare node:http JSON server (bench/bare-http-server.ts), the ceiling of Node itself. */
export async function startBareServer(): Promise<{ url: string; proc: ManagedProcess }> {
  const port = await freePort();
  const proc = spawnTsHelper('bare-http', 'bench/bare-http-server.ts', ['--port', String(port)]);
  const match = await proc.waitForLine(/READY (http:\/\/\S+)/, 60_000);
  return { url: match[1], proc };
}

export interface BenchDatabase {
  kind: 'sqlite' | 'postgres';
  url: string;
  /** Refreshes the planner statistics (ANALYZE), e.g. after seeding. */
  analyze(): Promise<void>;
  drop(): Promise<void>;
}

/** A fresh SQLite file in a temp dir, or a fresh database on TEST_POSTGRES_URL. */
export async function createBenchDatabase(kind: 'sqlite' | 'postgres'): Promise<BenchDatabase> {
  if (kind === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'chatbot-bench-'));
    const file = join(dir, 'bench.db');
    return {
      kind,
      url: `sqlite:///${file}`,
      analyze: async () => {
        const { default: Database } = await import('better-sqlite3');
        const sqlite = new Database(file);
        try {
          sqlite.exec('ANALYZE');
        } finally {
          sqlite.close();
        }
      },
      drop: async () => rmSync(dir, { recursive: true, force: true }),
    };
  }
  const adminUrl = process.env.TEST_POSTGRES_URL;
  if (!adminUrl) {
    throw new Error(
      'Postgres benchmarks need TEST_POSTGRES_URL (eval "$(bash scripts/test-services.sh)")',
    );
  }
  const { Client } = await import('pg');
  const name = `chatbot_bench_${randomBytes(6).toString('hex')}`;
  const run = async (connectionString: string, sql: string) => {
    const client = new Client({ connectionString });
    await client.connect();
    try {
      await client.query(sql);
    } finally {
      await client.end();
    }
  };
  await run(adminUrl, `CREATE DATABASE ${name}`);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    kind,
    url: url.toString(),
    analyze: () => run(url.toString(), 'ANALYZE'),
    drop: () => run(adminUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`),
  };
}

export interface AppOptions {
  /** Path of the built entry point (dist/src/main.js). */
  entry: string;
  databaseUrl: string;
  simulatorUrl?: string;
  bcryptRounds: number;
  /** Extra environment (wins over the defaults). */
  env?: NodeJS.ProcessEnv;
  /** Extra node flags, e.g. `--cpu-prof`. */
  nodeArgs?: string[];
}

/** The model id the app uses for the simulator (OpenAI-compatible provider). */
export const SIM_MODEL = 'openai-compatible/sim-model';
/** Limits so high that rate limiting and quotas never answer 429 during a benchmark. */
const NO_LIMIT = '1000000000';

/** The environment the app is benchmarked with (documented in bench/RESULTS.md). */
export function appEnv(options: AppOptions, port: number): NodeJS.ProcessEnv {
  return {
    ...baseEnv(),
    NODE_ENV: 'production',
    HOST: '127.0.0.1',
    PORT: String(port),
    SECRET_KEY: randomBytes(32).toString('hex'),
    DATABASE_URL: options.databaseUrl,
    LOG_LEVEL: 'warn',
    SECURITY__BCRYPT_ROUNDS: String(options.bcryptRounds),
    RATE_LIMIT__DEFAULT_PER_MINUTE: NO_LIMIT,
    RATE_LIMIT__AUTH_PER_MINUTE: NO_LIMIT,
    RATE_LIMIT__LOGIN_FAILURES_PER_ACCOUNT: NO_LIMIT,
    QUOTA__REQUESTS_PER_MINUTE: NO_LIMIT,
    QUOTA__TOKENS_PER_DAY: NO_LIMIT,
    // One upstream call per chat request, so it compares 1:1 with the direct SDK call.
    CHAT__GENERATE_TITLES: 'false',
    ...(options.simulatorUrl
      ? {
          AI_SERVICES__OPENAI_COMPATIBLE_BASE_URL: `${options.simulatorUrl}/v1`,
          AI_SERVICES__OPENAI_COMPATIBLE_API_KEY: 'sim-key',
          AI_SERVICES__OPENAI_COMPATIBLE_MODELS: 'sim-model',
          AI_SERVICES__DEFAULT_MODEL: SIM_MODEL,
        }
      : {}),
    ...options.env,
  };
}

export interface RunningApp {
  url: string;
  proc: ManagedProcess;
  /** The app's working directory (a temp dir; `--cpu-prof` writes its profile here). */
  cwd: string;
  stop(): Promise<void>;
}

/** Starts the built app as its own process (cwd: a temp dir, so no .env is read) and waits for /health/live. */
export async function startApp(options: AppOptions): Promise<RunningApp> {
  if (!existsSync(options.entry)) {
    throw new Error(`${options.entry} not found: build the app first`);
  }
  const port = await freePort();
  const cwd = mkdtempSync(join(tmpdir(), 'chatbot-bench-app-'));
  const proc = spawnManaged('app', process.execPath, [...(options.nodeArgs ?? []), options.entry], {
    env: appEnv(options, port),
    cwd,
  });
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    await proc.stop();
    rmSync(cwd, { recursive: true, force: true });
  };
  const deadline = Date.now() + 90_000;
  while (Date.now() < deadline) {
    if (!proc.alive) {
      await stop();
      throw new Error(`the app exited during start-up:\n${proc.output}`);
    }
    try {
      const res = await fetch(`${url}/health/live`);
      if (res.ok) return { url, proc, cwd, stop };
    } catch {
      // not listening yet
    }
    await sleep(200);
  }
  await stop();
  throw new Error(`the app did not answer /health/live within 90 s:\n${proc.output}`);
}
