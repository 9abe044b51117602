/**
 * `npm run bench` (quick, < 5 min), `npm run bench:full`, `npm run bench:smoke` (< 60 s, CI):
 * measures what the backend adds on top of the model, each figure next to a baseline measured in
 * the same run on loopback. The app runs as its own built process (dist/src/main.js, rebuilt with
 * `npm run build` when missing or older than the sources), the provider simulator and the helper
 * servers as their own processes, and this process is the load generator.
 *
 *   npm run bench -- --only chat,history      # a subset: ceiling, login, history, chat, streaming, sockets, openai
 *   npm run bench -- --app /path/to/main.js   # another build (e.g. before/after a change)
 *   npm run bench -- --only chat --cpu-prof   # V8 CPU profiles of the app in $TMPDIR/chatbot-bench-profiles
 *                                             # (summarise: bench/profile-summary.ts <file>)
 *
 * Prints a Markdown report (the figures and every target with its verdict) and writes the raw
 * figures to bench/results/<profile>-<time>.json (git-ignored).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ROOT, stopAll } from './lib/processes';
import { type BenchContext, PROFILES, type Profile } from './lib/profile';
import { evaluateTargets, renderReport, type BenchReport } from './report';
import { runCeiling } from './scenarios/ceiling';
import { runChat } from './scenarios/chat';
import { runHistory } from './scenarios/history';
import { runLogin } from './scenarios/login';
import { runOpenAi } from './scenarios/openai';
import { runSockets } from './scenarios/sockets';
import { runStreaming } from './scenarios/streaming';

const SCENARIOS = {
  ceiling: runCeiling,
  login: runLogin,
  history: runHistory,
  chat: runChat,
  streaming: runStreaming,
  sockets: runSockets,
  openai: runOpenAi,
} as const;
type ScenarioName = keyof typeof SCENARIOS;

/** The app's default SECURITY__BCRYPT_ROUNDS (config/app-config.ts), used when none is given. */
const DEFAULT_BCRYPT_ROUNDS = 12;
const SMOKE_BCRYPT_ROUNDS = 8;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      profile: { type: 'string', default: 'quick' },
      only: { type: 'string' },
      app: { type: 'string' },
      'bcrypt-rounds': { type: 'string' },
      'cpu-prof': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(
      'Usage: bench/run.ts [--profile smoke|quick|full] [--only ceiling,login,history,chat,streaming,sockets,openai]\n' +
        '                    [--app dist/src/main.js] [--bcrypt-rounds N (default SECURITY__BCRYPT_ROUNDS, else 12; smoke 8)]\n' +
        '                    [--cpu-prof (V8 profiles of the app in $TMPDIR/chatbot-bench-profiles)]',
    );
    return;
  }
  const profile = PROFILES[values.profile as Profile['name']];
  if (!profile) throw new Error(`unknown profile "${values.profile}" (smoke, quick, full)`);
  const names = (values.only ?? Object.keys(SCENARIOS).join(','))
    .split(',')
    .map((name) => name.trim())
    .filter(Boolean) as ScenarioName[];
  for (const name of names) {
    if (!(name in SCENARIOS)) throw new Error(`unknown benchmark "${name}"`);
  }
  // The smoke run only proves the scripts work: a cheap cost keeps it well under a minute.
  const bcryptRounds = Number(
    values['bcrypt-rounds'] ??
      process.env.SECURITY__BCRYPT_ROUNDS ??
      (profile.name === 'smoke' ? SMOKE_BCRYPT_ROUNDS : DEFAULT_BCRYPT_ROUNDS),
  );

  const appEntry = values.app ? resolve(values.app) : join(ROOT, 'dist', 'src', 'main.js');
  if (!values.app) ensureBuilt(appEntry);

  const started = Date.now();
  const log = (message: string) =>
    console.error(`[bench ${((Date.now() - started) / 1000).toFixed(0).padStart(4)}s] ${message}`);
  const profileDir = join(tmpdir(), 'chatbot-bench-profiles');
  const appNodeArgs = values['cpu-prof'] ? ['--cpu-prof', '--cpu-prof-dir', profileDir] : [];
  const ctx: BenchContext = { profile, appEntry, bcryptRounds, appNodeArgs, log };

  const report: BenchReport = {
    date: new Date().toISOString(),
    profile: profile.name,
    command: `npm run ${profile.name === 'quick' ? 'bench' : `bench:${profile.name}`}${
      values.only ? ` -- --only ${values.only}` : ''
    }`,
    machine: machineInfo(),
    bcryptRounds,
    results: {},
    errors: {},
    seconds: 0,
  };
  for (const name of names) {
    log(`== ${name}`);
    try {
      (report.results as Record<string, unknown>)[name] = await SCENARIOS[name](ctx);
    } catch (error) {
      report.errors[name] = error instanceof Error ? error.message : String(error);
      log(`${name} failed: ${report.errors[name]}`);
    } finally {
      await stopAll();
    }
  }
  report.seconds = Math.round((Date.now() - started) / 1000);
  report.machine.loadAverageAfter = loadavg().map((v) => Number(v.toFixed(2)));
  report.targets = evaluateTargets(report);

  const dir = join(ROOT, 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${profile.name}-${report.date.replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
  console.log(renderReport(report));
  log(`raw figures: ${file}`);

  const problems = smokeProblems(report, names);
  if (problems.length) {
    console.error(`\nBenchmark scripts did not produce every figure:\n- ${problems.join('\n- ')}`);
    process.exitCode = 1;
  }
}

/**
 * Failures of the scripts themselves (what the CI smoke run guards): a benchmark that threw,
 * produced no number, or saw failed requests or broken streams. Missed targets are not failures.
 */
function smokeProblems(report: BenchReport, names: string[]): string[] {
  const problems = Object.entries(report.errors).map(([name, message]) => `${name}: ${message}`);
  for (const name of names) {
    const result = report.results[name];
    if (result === undefined) continue;
    const walk = (value: unknown, path: string) => {
      if (typeof value === 'number' && Number.isNaN(value)) problems.push(`${path} is NaN`);
      if (typeof value === 'string' && path.endsWith('.skipped') && value.startsWith('failed')) {
        problems.push(`${path}: ${value}`);
      }
      if (value && typeof value === 'object') {
        for (const [key, inner] of Object.entries(value)) walk(inner, `${path}.${key}`);
      }
    };
    walk(result, name);
  }
  return problems;
}

function machineInfo(): BenchReport['machine'] {
  const commit = spawnSync('git', ['rev-parse', '--short', 'HEAD'], {
    cwd: ROOT,
    encoding: 'utf8',
  });
  return {
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    memoryGb: Number((totalmem() / 2 ** 30).toFixed(1)),
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    commit: commit.stdout.trim() || 'unknown',
    loadAverageBefore: loadavg().map((v) => Number(v.toFixed(2))),
  };
}

/** Builds the app (`npm run build`) when dist is missing or older than any source file. */
function ensureBuilt(entry: string): void {
  const newest = Math.max(...['src', 'libs', 'config'].map((dir) => newestMtime(join(ROOT, dir))));
  if (existsSync(entry) && statSync(entry).mtimeMs >= newest) return;
  console.error('[bench] building the app (npm run build)…');
  const build = spawnSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'inherit' });
  if (build.status !== 0 || !existsSync(entry)) throw new Error('npm run build failed');
}

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestMtime(path));
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.spec.ts')) {
      newest = Math.max(newest, statSync(path).mtimeMs);
    }
  }
  return newest;
}

const interrupt = () => {
  void stopAll().then(() => process.exit(130));
};
process.on('SIGINT', interrupt);
process.on('SIGTERM', interrupt);

main()
  .catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exitCode = 1;
  })
  // Keep-alive agents and socket clients may hold the loop open: exit once everything is stopped.
  .finally(() => stopAll().then(() => process.exit()));
