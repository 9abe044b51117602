import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:net';
import { freePort, REPO_ROOT, runCommand } from './app-process';

/**
 * Services a fault-injection suite owns and may stop and restart at will: a private
 * `redis-server` and a private PostgreSQL cluster, each on its own loopback port and temp
 * directory. The shared test services (TEST_REDIS_URL, TEST_POSTGRES_URL) are never touched.
 */

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

/** Resolves once something accepts TCP connections on 127.0.0.1:`port`. */
export async function waitForPort(port: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const open = await new Promise<boolean>((done) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        done(true);
      });
      socket.once('error', () => done(false));
    });
    if (open) return;
    await sleep(100);
  }
  throw new Error(`nothing listens on 127.0.0.1:${port} after ${timeoutMs} ms`);
}

/** A `redis-server` child process (Debian's binary), no persistence, that can be killed and restarted. */
export class PrivateRedis {
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();

  private constructor(readonly port: number) {}

  /** Starts a fresh server on a free port. */
  static async start(): Promise<PrivateRedis> {
    const redis = new PrivateRedis(await freePort());
    await redis.restart();
    return redis;
  }

  /** `redis://127.0.0.1:<port>`. */
  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.child !== undefined;
  }

  /** Starts the server again on the same port (empty: no persistence). */
  async restart(): Promise<void> {
    if (this.child) return;
    const child = spawn(
      'redis-server',
      ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      { stdio: 'ignore' },
    );
    this.child = child;
    this.exited = new Promise((done) =>
      child.once('exit', () => {
        if (this.child === child) this.child = undefined;
        done();
      }),
    );
    await waitForPort(this.port);
  }

  /** Kills the server at once (SIGKILL: clients see their connections reset). */
  async kill(): Promise<void> {
    if (!this.child) return;
    this.child.kill('SIGKILL');
    await this.exited;
  }
}

/** A PostgreSQL cluster of its own (initdb in a temp dir, run as the `postgres` OS user). */
export class PrivatePostgres {
  private constructor(
    readonly port: number,
    private readonly dir: string,
    private readonly bin: string,
  ) {}

  /** Creates and starts a cluster with trust auth on 127.0.0.1 and a `chatbot` database. */
  static async start(): Promise<PrivatePostgres> {
    const bin = postgresBinDir();
    const dir = mkdtempSync(join(tmpdir(), 'chatbot-pg-'));
    const { uid, gid } = postgresUser();
    chownSync(dir, uid, gid);
    const pg = new PrivatePostgres(await freePort(), dir, bin);
    await pg.asPostgres('initdb', [
      '-D',
      pg.dataDir,
      '-A',
      'trust',
      '-U',
      'postgres',
      '--no-sync',
      '-E',
      'UTF8',
    ]);
    await pg.resume();
    await pg.asPostgres('createdb', ['-h', '127.0.0.1', '-p', String(pg.port), 'chatbot']);
    return pg;
  }

  private get dataDir(): string {
    return join(this.dir, 'data');
  }

  /** `postgres://postgres@127.0.0.1:<port>/chatbot`. */
  get url(): string {
    return `postgres://postgres@127.0.0.1:${this.port}/chatbot`;
  }

  /** Starts (again) the stopped cluster and waits until it accepts connections. */
  async resume(): Promise<void> {
    await this.asPostgres('pg_ctl', [
      '-D',
      this.dataDir,
      '-l',
      join(this.dir, 'postgres.log'),
      '-o',
      `-p ${this.port} -k ${this.dir} -c listen_addresses=127.0.0.1 -c fsync=off`,
      '-w',
      '-t',
      '30',
      'start',
    ]);
  }

  /** Stops the cluster (`fast`: open connections are terminated with 57P01, like a restart). */
  async stop(mode: 'fast' | 'immediate' = 'fast'): Promise<void> {
    await this.asPostgres('pg_ctl', ['-D', this.dataDir, '-m', mode, '-w', '-t', '30', 'stop']);
  }

  /** Stops the cluster if running and deletes its directory. */
  async destroy(): Promise<void> {
    if (existsSync(join(this.dataDir, 'postmaster.pid'))) {
      await this.stop('immediate').catch(() => undefined);
    }
    rmSync(this.dir, { recursive: true, force: true });
  }

  private async asPostgres(tool: string, args: string[]): Promise<void> {
    const result = await runCommand(
      'runuser',
      ['-u', 'postgres', '--', join(this.bin, tool), ...args],
      60_000,
      {
        cwd: this.dir,
      },
    );
    if (result.code !== 0) {
      throw new Error(`${tool} failed (${result.code}):\n${result.output.slice(-2000)}`);
    }
  }
}

/** The newest /usr/lib/postgresql/<version>/bin (Debian's layout). */
function postgresBinDir(): string {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root)
    ? readdirSync(root)
        .filter((name) => existsSync(join(root, name, 'bin', 'initdb')))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  if (versions.length === 0) {
    throw new Error('No PostgreSQL server binaries under /usr/lib/postgresql');
  }
  return join(root, versions[0], 'bin');
}

function postgresUser(): { uid: number; gid: number } {
  const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
  const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
  return { uid, gid };
}

/** True when this machine can run the private services (root, redis-server, PostgreSQL binaries). */
export function canRunPrivateServices(): { ok: boolean; reason?: string } {
  if (process.getuid?.() !== 0) {
    return { ok: false, reason: 'needs root (to run PostgreSQL as "postgres")' };
  }
  try {
    execFileSync('redis-server', ['--version']);
    postgresBinDir();
    postgresUser();
  } catch (error) {
    return { ok: false, reason: (error as Error).message };
  }
  return { ok: true };
}

export interface NginxFromDeployOptions {
  /** App processes behind the balancer (replace the upstream's `server` lines). */
  upstreamPorts: number[];
  /** Drop `ip_hash;` (round robin): the control case that shows why stickiness is needed. */
  withoutIpHash?: boolean;
  /** Override `worker_processes` (one worker makes round robin deterministic). */
  workerProcesses?: number;
}

/**
 * Debian's nginx running `deploy/nginx.conf` itself, adapted only where a test must: loopback
 * ports instead of 80/443, a throw-away self-signed certificate, pid and logs in a temp dir, and
 * the test's app processes as the upstream servers. Everything else (ip_hash, proxy headers,
 * buffering, timeouts, locations) is the shipped file.
 */
export class PrivateNginx {
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();

  private constructor(
    readonly httpPort: number,
    readonly httpsPort: number,
    private readonly dir: string,
  ) {}

  static async fromDeployConfig(options: NginxFromDeployOptions): Promise<PrivateNginx> {
    const dir = mkdtempSync(join(tmpdir(), 'chatbot-nginx-'));
    // Workers run as www-data: they must reach the temp dirs nginx creates under the prefix.
    chmodSync(dir, 0o755);
    const nginx = new PrivateNginx(await freePort(), await freePort(), dir);
    const openssl = await runCommand(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=localhost',
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
      ],
      30_000,
    );
    if (openssl.code !== 0) throw new Error(`openssl failed:\n${openssl.output}`);
    const shipped = readFileSync(join(REPO_ROOT, 'deploy', 'nginx.conf'), 'utf8');
    writeFileSync(join(dir, 'nginx.conf'), nginx.adapt(shipped, options));
    await nginx.start();
    return nginx;
  }

  /** `https://127.0.0.1:<port>` (self-signed: clients must not verify the certificate). */
  get httpsUrl(): string {
    return `https://127.0.0.1:${this.httpsPort}`;
  }

  get httpUrl(): string {
    return `http://127.0.0.1:${this.httpPort}`;
  }

  /** The error log, for failure messages. */
  errorLog(): string {
    const path = join(this.dir, 'error.log');
    return existsSync(path) ? readFileSync(path, 'utf8') : '';
  }

  private adapt(config: string, options: NginxFromDeployOptions): string {
    let upstreamDone = false;
    const lines = config.split('\n').flatMap((line) => {
      if (/^\s*server 127\.0\.0\.1:\d+/.test(line)) {
        if (upstreamDone) return [];
        upstreamDone = true;
        const indent = /^\s*/.exec(line)![0];
        return options.upstreamPorts.map(
          (port) => `${indent}server 127.0.0.1:${port} max_fails=3 fail_timeout=10s;`,
        );
      }
      if (/^\s*listen \[::\]/.test(line)) return [];
      if (options.withoutIpHash && /^\s*ip_hash;/.test(line)) return [];
      return [line];
    });
    const adapted = lines
      .join('\n')
      .replace(/^pid .*;$/m, `pid ${join(this.dir, 'nginx.pid')};`)
      .replace(/(access_log|error_log) \/var\/log\/nginx\/([a-z]+\.log)/g, `$1 ${this.dir}/$2`)
      .replace(/listen 80;/, `listen 127.0.0.1:${this.httpPort};`)
      .replace(/listen 443 ssl/, `listen 127.0.0.1:${this.httpsPort} ssl`)
      .replace(/ssl_certificate \S+;/, `ssl_certificate ${join(this.dir, 'cert.pem')};`)
      .replace(/ssl_certificate_key \S+;/, `ssl_certificate_key ${join(this.dir, 'key.pem')};`)
      .replace(/^worker_processes .*;$/m, `worker_processes ${options.workerProcesses ?? 'auto'};`);
    for (const port of [this.httpPort, this.httpsPort]) {
      if (!adapted.includes(`127.0.0.1:${port}`)) {
        throw new Error('deploy/nginx.conf changed shape');
      }
    }
    return adapted;
  }

  private async start(): Promise<void> {
    const child = spawn(
      'nginx',
      ['-p', this.dir, '-c', join(this.dir, 'nginx.conf'), '-g', 'daemon off;'],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    this.child = child;
    this.exited = new Promise((done) => child.once('exit', () => done()));
    try {
      await Promise.race([
        Promise.all([waitForPort(this.httpPort), waitForPort(this.httpsPort)]),
        this.exited.then(() => {
          throw new Error(`nginx exited: ${stderr}`);
        }),
      ]);
    } catch (error) {
      await this.stop();
      throw error;
    }
  }

  /** Fast shutdown (SIGTERM: the master stops its workers); SIGKILL after 5 s. */
  async stop(): Promise<void> {
    const child = this.child;
    if (child && child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await this.exited;
      clearTimeout(timer);
    }
    this.child = undefined;
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** True when nginx and openssl can be run here (Debian packages `nginx`, `openssl`). */
export function canRunNginx(): { ok: boolean; reason?: string } {
  try {
    execFileSync('nginx', ['-v'], { stdio: 'ignore' });
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
  } catch {
    return { ok: false, reason: 'needs nginx and openssl (apt-get install -y nginx openssl)' };
  }
  if (process.getuid?.() !== 0) {
    return { ok: false, reason: 'needs root (deploy/nginx.conf names a user)' };
  }
  return { ok: true };
}
