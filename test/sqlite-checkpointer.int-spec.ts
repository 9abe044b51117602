import { statSync } from 'node:fs';
import type { Database } from 'better-sqlite3';
import { DataSource } from 'typeorm';
import { AppConfig, buildDataSourceOptions } from '@app/config';
import { baseTestEnv, createTestDatabase, type TestDatabase } from '@app/testing';
import { SqliteCheckpointer } from '../src/database/sqlite-checkpointer';
import { openSqliteHandle } from '../src/database/sqlite-handle';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('SqliteCheckpointer (real SQLite file, real worker thread)', () => {
  let database: TestDatabase;
  let dataSource: DataSource;
  let handle: Database;
  let file: string;

  beforeEach(async () => {
    database = await createTestDatabase('sqlite');
    const config = AppConfig.fromEnv({ ...baseTestEnv(), DATABASE_URL: database.url });
    dataSource = new DataSource(buildDataSourceOptions(config.database));
    await dataSource.initialize();
    handle = openSqliteHandle(dataSource.driver)!;
    file = handle.name;
    handle.exec('CREATE TABLE blobs (id INTEGER PRIMARY KEY, body BLOB NOT NULL)');
  });
  /** Checkpointers started by a test, stopped even when it fails (a live worker holds the file). */
  const started: SqliteCheckpointer[] = [];
  const track = (checkpointer: SqliteCheckpointer) => (started.push(checkpointer), checkpointer);
  afterEach(async () => {
    await Promise.all(started.splice(0).map((checkpointer) => checkpointer.onApplicationShutdown()));
    await dataSource.destroy();
    await database.drop();
  });

  /** 2,000 one-row transactions of 1 KB: ~2,000 WAL pages, past SQLite's 1,000-page default. */
  function writeTransactions(): void {
    const insert = handle.prepare('INSERT INTO blobs (body) VALUES (?)');
    const body = Buffer.alloc(1024, 7);
    for (let i = 0; i < 2000; i++) insert.run(body);
  }

  it('stops the app connection from checkpointing and copies the WAL into the file in its worker', async () => {
    // A first worker that will not tick during the test: the commits alone copy nothing into the
    // database file (a worker ticking every 50 ms could checkpoint while they run).
    const idle = track(new SqliteCheckpointer(dataSource, 60_000));
    idle.onApplicationBootstrap();
    expect(idle.running).toBe(true);
    expect(handle.pragma('wal_autocheckpoint', { simple: true })).toBe(0);
    const before = statSync(file).size;
    writeTransactions();
    expect(statSync(file).size).toBe(before);
    await idle.onApplicationShutdown();
    expect(handle.pragma('wal_autocheckpoint', { simple: true })).toBe(1000);

    const checkpointer = track(new SqliteCheckpointer(dataSource, 50));
    checkpointer.onApplicationBootstrap();
    expect(handle.pragma('wal_autocheckpoint', { simple: true })).toBe(0);
    const deadline = Date.now() + 10_000;
    while (statSync(file).size < before + 1_500_000 && Date.now() < deadline) await sleep(50);
    expect(statSync(file).size).toBeGreaterThanOrEqual(before + 1_500_000);
    expect(handle.prepare('SELECT COUNT(*) AS n FROM blobs').get()).toEqual({ n: 2000 });

    await checkpointer.onApplicationShutdown();
    expect(checkpointer.running).toBe(false);
    expect(handle.pragma('wal_autocheckpoint', { simple: true })).toBe(1000);
  });

  it('hands checkpointing back to the app connection when the worker dies', async () => {
    const checkpointer = track(new SqliteCheckpointer(dataSource, 50));
    checkpointer.onApplicationBootstrap();
    const worker = (checkpointer as unknown as { worker: { terminate(): Promise<number> } }).worker;
    await worker.terminate();
    await sleep(20);

    expect(checkpointer.running).toBe(false);
    expect(handle.pragma('wal_autocheckpoint', { simple: true })).toBe(1000);
    const before = statSync(file).size;
    writeTransactions();
    expect(statSync(file).size).toBeGreaterThan(before);
  });

  it('does nothing on an in-memory database', async () => {
    const memory = new DataSource({ type: 'better-sqlite3', database: ':memory:' });
    await memory.initialize();
    try {
      const checkpointer = new SqliteCheckpointer(memory, 50);
      checkpointer.onApplicationBootstrap();
      expect(checkpointer.running).toBe(false);
      await checkpointer.onApplicationShutdown();
    } finally {
      await memory.destroy();
    }
  });
});
