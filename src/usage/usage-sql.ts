import type { DataSource } from 'typeorm';
import { UsageRecord } from './entities/usage-record.entity';

/**
 * A date as a bound parameter compared with `usage_records.created_at`, in the form the driver
 * stores it (SQLite keeps UTC text, Postgres a timestamp), exactly as TypeORM writes the column.
 */
export function createdAtParam(dataSource: DataSource, date: Date): unknown {
  const column = dataSource.getMetadata(UsageRecord).findColumnWithPropertyName('createdAt')!;
  return dataSource.driver.preparePersistentValue(date, column) as unknown;
}

/** SQL of the UTC day (`YYYY-MM-DD`) of a `created_at` column. */
export function createdDaySql(dataSource: DataSource, column: string): string {
  return dataSource.options.type === 'postgres'
    ? `to_char(${column}, 'YYYY-MM-DD')`
    : `substr(${column}, 1, 10)`;
}
