import { types as pgTypes, defaults as pgDefaults } from 'pg';
import type { DataSourceOptions } from 'typeorm';
import { DatabaseConfig } from './app-config';
import { ENTITIES } from '../src/database/entities';
import { MIGRATIONS } from '../src/database/migrations';

const PG_TIMESTAMP_WITHOUT_TZ = 1114;

/**
 * Every timestamp is UTC end to end: Postgres `timestamp` columns are written and read as UTC
 * whatever the process or server time zone, so SQLite and Postgres return identical instants.
 */
function pinPostgresToUtc(): void {
  pgDefaults.parseInputDatesAsUTC = true;
  pgTypes.setTypeParser(
    PG_TIMESTAMP_WITHOUT_TZ,
    (value: string) => new Date(`${value.replace(' ', 'T')}Z`),
  );
}

/** TypeORM options for the app, the migration CLI and tests; one place for both databases. */
export function buildDataSourceOptions(db: DatabaseConfig): DataSourceOptions {
  const common = {
    entities: ENTITIES,
    migrations: MIGRATIONS,
    migrationsRun: db.runMigrations && !db.synchronize,
    synchronize: db.synchronize,
    logging: false as const,
  };
  if (db.type === 'postgres') {
    pinPostgresToUtc();
    return {
      ...common,
      type: 'postgres',
      url: db.url,
      poolSize: db.poolSize,
      extra: { options: '-c timezone=UTC', connectionTimeoutMillis: 5_000 },
    };
  }
  return {
    ...common,
    type: 'better-sqlite3',
    database: db.sqlitePath!,
    // WAL lets readers proceed while a writer commits; busy timeout rides out short write locks.
    prepareDatabase: (sqlite: { pragma(sql: string): unknown }) => {
      sqlite.pragma('journal_mode = WAL');
      sqlite.pragma('synchronous = NORMAL');
      sqlite.pragma('busy_timeout = 5000');
      sqlite.pragma('foreign_keys = ON');
    },
  };
}
