import type { DataSource } from 'typeorm';

/** `sql` with its `?` placeholders numbered as node-postgres wants them: `$1`, `$2`… */
export function numberedPlaceholders(sql: string): string {
  let n = 0;
  return sql.replace(/\?/g, () => `$${++n}`);
}

/**
 * A statement written with `?` placeholders, in the style of the data source's driver (numbered
 * on PostgreSQL, as written on SQLite): for the plain statements of hot paths, built once
 * instead of a TypeORM query per call.
 */
export function driverSql(dataSource: DataSource, sql: string): string {
  return dataSource.options.type === 'postgres' ? numberedPlaceholders(sql) : sql;
}
