import { ChildProcess, spawn } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdtempSync,
  openSync,
  readdirSync,
  rmSync,
  statSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { baseTestEnv, sharedRedisLimits } from './test-app';

/** The repository root (this file is libs/testing/src/app-process.ts). */
export const REPO_ROOT = resolve(__dirname, '../../..');
/** The entry point `npm run build` produces and production runs (`node dist/src/main.js`). */
export const BUILT_APP_ENTRY = join(REPO_ROOT, 'dist', 'src', 'main.js');

const BUILD_LOCK = join(tmpdir(), 'chatbot-app-build.lock');
const SOURCE_DIRS = ['src', 'libs', 'config'];
const MAX_LOG_CHARS = 2_000_000;

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

/** How a child process ended: an exit code, or the signal that killed it. */
export interface ProcessExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** The built app running as a child process, as production runs it. */
export interface AppProcess {
  /** `http://127.0.0.1:<port>`. */
  url: string;
  port: number;
  pid: number;
  /** Everything the process wrote to stdout and stderr so far (pino JSON lines, start-up line). */
  logs(): string;
  /** Resolves when the process has exited (whoever ended it). */
  exited: Promise<ProcessExit>;
  /** True until the process exited. */
  readonly running: boolean;
  /**
   * Sends `signal` (default SIGTERM) and waits up to `timeoutMs` for the exit; after that the
   * process is SIGKILLed and the promise rejects, so a hanging shutdown fails the test.
   */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<ProcessExit>;
  /** SIGKILL now if still running (cleanup in afterAll; never throws). */
  kill(): Promise<void>;
}

export interface StartAppProcessOptions {
  /** Listen port; a free loopback port is picked when absent. */
  port?: number;
  /** How long to wait for `GET /health/live` → 200 (default 30 s). */
  startTimeoutMs?: number;
}

const children = new Set<ChildProcess>();
let exitHookInstalled = false;

/** Picks a free TCP port on 127.0.0.1 (bound and released; the caller binds it right after). */
export async function freePort(): Promise<number> {
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

/**
 * Starts `node dist/src/main.js` with exactly `env` on top of the quiet test defaults (the
 * parent's environment is not inherited beyond PATH/HOME, and the working directory is an empty
 * temp dir, so no `.env` file leaks in), and resolves once `/health/live` answers 200. Rejects
 * with the process output when it exits or does not come up in time.
 */
export async function startAppProcess(
  env: Record<string, string | undefined>,
  options: StartAppProcessOptions = {},
): Promise<AppProcess> {
  if (!existsSync(BUILT_APP_ENTRY)) {
    throw new Error(`${BUILT_APP_ENTRY} is missing: run "npm run build" (or ensureAppBuilt())`);
  }
  installExitHook();
  const port = options.port ?? (await freePort());
  const cwd = mkdtempSync(join(tmpdir(), 'chatbot-proc-'));
  const childEnv: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? cwd,
    ...baseTestEnv(),
    ...sharedRedisLimits(env),
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'warn',
    LOG_FORMAT: 'json', // as production writes them
  };
  for (const [key, value] of Object.entries(env)) {
    if (value !== undefined) childEnv[key] = value;
  }
  childEnv.PORT = String(port);
  childEnv.HOST = childEnv.HOST ?? '127.0.0.1';

  const child = spawn(process.execPath, [BUILT_APP_ENTRY], {
    cwd,
    env: childEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  let output = '';
  const append = (chunk: Buffer) => {
    output += chunk.toString('utf8');
    if (output.length > MAX_LOG_CHARS) output = output.slice(-MAX_LOG_CHARS);
  };
  child.stdout.on('data', append);
  child.stderr.on('data', append);
  let running = true;
  const exited = new Promise<ProcessExit>((done) => {
    child.once('exit', (code, signal) => {
      running = false;
      children.delete(child);
      rmSync(cwd, { recursive: true, force: true });
      done({ code, signal });
    });
  });

  const url = `http://${childEnv.HOST}:${port}`;
  const handle: AppProcess = {
    url,
    port,
    pid: child.pid!,
    logs: () => output,
    exited,
    get running() {
      return running;
    },
    stop: async (signal = 'SIGTERM', timeoutMs = 30_000) => {
      if (!running) return exited;
      child.kill(signal);
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<'timeout'>((done) => {
        timer = setTimeout(() => done('timeout'), timeoutMs);
      });
      const outcome = await Promise.race([exited, timeout]);
      clearTimeout(timer);
      if (outcome === 'timeout') {
        child.kill('SIGKILL');
        await exited;
        throw new Error(`app process ${child.pid} did not exit ${timeoutMs} ms after ${signal}`);
      }
      return outcome;
    },
    kill: async () => {
      if (!running) return;
      child.kill('SIGKILL');
      await exited;
    },
  };

  const deadline = Date.now() + (options.startTimeoutMs ?? 30_000);
  while (Date.now() < deadline) {
    if (!running) {
      const { code, signal } = await exited;
      throw new Error(
        `app process exited during start-up (code ${code}, signal ${signal}):\n${output.slice(-4000)}`,
      );
    }
    try {
      const res = await fetch(`${url}/health/live`, { signal: AbortSignal.timeout(1_000) });
      if (res.status === 200) return handle;
    } catch {
      // Not listening yet.
    }
    await sleep(100);
  }
  await handle.kill();
  throw new Error(`app process did not answer /health/live in time:\n${output.slice(-4000)}`);
}

/** SIGKILLs every app process this module started that is still running. */
export async function killAllAppProcesses(): Promise<void> {
  await Promise.all(
    [...children].map(
      (child) =>
        new Promise<void>((done) => {
          if (child.exitCode !== null || child.signalCode !== null) return done();
          child.once('exit', () => done());
          child.kill('SIGKILL');
        }),
    ),
  );
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // A crashed or killed test runner must not leave app processes behind.
  process.once('exit', () => {
    for (const child of children) child.kill('SIGKILL');
  });
}

/** Newest modification time (ms) of the TypeScript sources the build compiles. */
function newestSourceMtime(): number {
  let newest = 0;
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) {
        if (entry.name !== 'node_modules') walk(path);
      } else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.spec.ts')) {
        newest = Math.max(newest, statSync(path).mtimeMs);
      }
    }
  };
  for (const dir of SOURCE_DIRS) {
    const path = join(REPO_ROOT, dir);
    if (existsSync(path)) walk(path);
  }
  return newest;
}

/** True when dist/src/main.js is missing or older than a source file. */
export function appBuildIsStale(): boolean {
  if (!existsSync(BUILT_APP_ENTRY)) return true;
  return statSync(BUILT_APP_ENTRY).mtimeMs < newestSourceMtime();
}

/**
 * Builds the app (`nest build`, the server part of `npm run build`) when dist/src/main.js is
 * missing or older than the sources. CI builds before testing, so there this is a no-op.
 * Suites running in parallel take a lock file so only one of them builds.
 */
export async function ensureAppBuilt(timeoutMs = 240_000): Promise<void> {
  if (!appBuildIsStale()) return;
  const deadline = Date.now() + timeoutMs;
  let lock: number | undefined;
  while (lock === undefined) {
    try {
      lock = openSync(BUILD_LOCK, 'wx');
    } catch {
      // Another suite builds; a lock older than the timeout is left over from a killed run.
      try {
        if (Date.now() - statSync(BUILD_LOCK).mtimeMs > timeoutMs) rmSync(BUILD_LOCK);
      } catch {
        // Removed meanwhile.
      }
      if (Date.now() > deadline) throw new Error('timed out waiting for another build');
      await sleep(500);
    }
  }
  try {
    if (!appBuildIsStale()) return;
    const exit = await runCommand(
      join(REPO_ROOT, 'node_modules', '.bin', 'nest'),
      ['build'],
      deadline - Date.now(),
    );
    if (exit.code !== 0) throw new Error(`nest build failed:\n${exit.output.slice(-4000)}`);
  } finally {
    closeSync(lock);
    rmSync(BUILD_LOCK, { force: true });
  }
}

/** Runs a command in the repository root, collecting its output; kills it after `timeoutMs`. */
export function runCommand(
  command: string,
  args: string[],
  timeoutMs: number,
  options: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<{ code: number | null; output: string }> {
  return new Promise((done, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd ?? REPO_ROOT,
      env: options.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    const timer = setTimeout(() => child.kill('SIGKILL'), Math.max(1, timeoutMs));
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      done({ code, output });
    });
  });
}
