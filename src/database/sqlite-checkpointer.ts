import { Worker } from 'node:worker_threads';
import {
  Inject,
  Injectable,
  Logger,
  OnApplicationBootstrap,
  OnApplicationShutdown,
  Optional,
} from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { Database } from 'better-sqlite3';
import { DataSource } from 'typeorm';
import { openSqliteHandle } from './sqlite-handle';

/** How often the worker checkpoints the WAL. */
export const CHECKPOINT_INTERVAL_MS = 500;
/** DI token overriding CHECKPOINT_INTERVAL_MS (tests). */
export const SQLITE_CHECKPOINT_INTERVAL_MS = Symbol('SQLITE_CHECKPOINT_INTERVAL_MS');
/**
 * WAL size (pages) past which the worker restarts the log. Passive checkpoints never block a
 * writer, but under sustained writes the log is never fully copied at the moment a writer starts,
 * so SQLite cannot rewind it and it keeps growing; a RESTART checkpoint waits for a gap.
 */
export const RESTART_AFTER_PAGES = 16_384;
/** SQLite's own default, restored when the worker is not running. */
const DEFAULT_AUTOCHECKPOINT_PAGES = 1_000;

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.file, { fileMustExist: true });
db.pragma('busy_timeout = 5000');
const timer = setInterval(() => {
  try {
    const [result] = db.pragma('wal_checkpoint(PASSIVE)');
    if (result && result.log > workerData.restartAfterPages) db.pragma('wal_checkpoint(RESTART)');
  } catch (error) {
    parentPort.postMessage(String((error && error.message) || error));
  }
}, workerData.intervalMs);
parentPort.once('message', () => {
  clearInterval(timer);
  db.close();
  parentPort.close();
});
`;

/**
 * Moves SQLite's WAL checkpoints off the event loop. A checkpoint copies the WAL into the
 * database file and fsyncs it; SQLite runs it inside the commit that crosses 1,000 WAL pages, and
 * since better-sqlite3 is synchronous that commit — and every request in flight — waited for the
 * fsync (15–20 ms on our benchmark disk, bench/RESULTS.md). Here the app's connection never
 * checkpoints (`wal_autocheckpoint = 0`); a worker thread with its own connection runs passive
 * checkpoints, which never block the app's writers. If the worker fails, the app's connection
 * checkpoints itself again, as SQLite does by default.
 */
@Injectable()
export class SqliteCheckpointer implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(SqliteCheckpointer.name);
  private worker?: Worker;
  private stopping = false;

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    @Optional()
    @Inject(SQLITE_CHECKPOINT_INTERVAL_MS)
    private readonly intervalMs: number = CHECKPOINT_INTERVAL_MS,
  ) {}

  /** Whether the worker is checkpointing (false before start, after stop or after a failure). */
  get running(): boolean {
    return this.worker !== undefined;
  }

  onApplicationBootstrap(): void {
    const handle = this.handle();
    const file = handle?.name;
    if (!handle || !file || handle.memory) return;
    const worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: {
        driver: require.resolve('better-sqlite3'),
        file,
        intervalMs: this.intervalMs,
        restartAfterPages: RESTART_AFTER_PAGES,
      },
    });
    worker.unref();
    worker.on('message', (message: string) =>
      this.logger.warn({ detail: message }, 'SQLite WAL checkpoint failed; retrying'),
    );
    worker.on('error', (error) =>
      this.logger.warn({ err: error }, 'SQLite checkpoint worker failed'),
    );
    worker.on('exit', () => {
      if (this.worker !== worker) return;
      this.worker = undefined;
      if (!this.stopping) {
        this.logger.warn('SQLite checkpoint worker stopped; the app connection checkpoints again');
      }
      this.setAutocheckpoint(DEFAULT_AUTOCHECKPOINT_PAGES);
    });
    this.worker = worker;
    this.setAutocheckpoint(0);
  }

  async onApplicationShutdown(): Promise<void> {
    const worker = this.worker;
    if (!worker) return;
    this.stopping = true;
    const exited = new Promise((resolve) => worker.once('exit', resolve));
    worker.postMessage('stop');
    await exited;
  }

  private setAutocheckpoint(pages: number): void {
    try {
      this.handle()?.pragma(`wal_autocheckpoint = ${pages}`);
    } catch {
      // The connection is already closed (shutdown): nothing left to checkpoint from it.
    }
  }

  /** better-sqlite3's handle of the app's connection; undefined on Postgres or when closed. */
  private handle(): Database | undefined {
    if (this.dataSource.options.type !== 'better-sqlite3' || !this.dataSource.isInitialized) {
      return undefined;
    }
    return openSqliteHandle(this.dataSource.driver);
  }
}
