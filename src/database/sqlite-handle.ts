import type { Database } from 'better-sqlite3';
import type { Driver } from 'typeorm/driver/Driver';

/**
 * better-sqlite3's handle of a TypeORM SQLite connection (the one connection TypeORM opened), or
 * undefined when the driver has none open (Postgres, not yet connected, closed).
 */
export function openSqliteHandle(driver: Driver): Database | undefined {
  const handle = (driver as unknown as { databaseConnection?: Database }).databaseConnection;
  return handle?.open ? handle : undefined;
}
