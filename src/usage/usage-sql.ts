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

/** The figures usage_daily holds per UTC day × user × model, which reports sum. */
export const DAILY_FIGURES = [
  'requests',
  'failed_requests',
  'prompt_tokens',
  'completion_tokens',
  'cached_tokens',
  'cost_micros',
  'cost_unknown_requests',
] as const;
export type DailyFigure = (typeof DAILY_FIGURES)[number];

/** Each figure as a sum over raw rows; an unknown cost is counted apart, never added as 0. */
const RAW_SUMS: Record<DailyFigure, string> = {
  requests: 'COUNT(*)',
  failed_requests: "SUM(CASE WHEN status = 'success' THEN 0 ELSE 1 END)",
  prompt_tokens: 'SUM(prompt_tokens)',
  completion_tokens: 'SUM(completion_tokens)',
  cached_tokens: 'SUM(cached_tokens)',
  cost_micros: 'COALESCE(SUM(cost_micros), 0)',
  cost_unknown_requests: 'SUM(CASE WHEN cost_micros IS NULL THEN 1 ELSE 0 END)',
};

/** `SELECT` list of the figures summed over raw usage rows, each named as its column. */
export function rawSumsSql(): string {
  return DAILY_FIGURES.map((figure) => `${RAW_SUMS[figure]} AS ${figure}`).join(', ');
}

/**
 * SQL adding the raw usage rows matching `where` (placeholders of the driver) to their
 * usage_daily totals (per UTC day × user × model), creating the missing ones. Keys are written
 * in order so that two instances adding to the same totals lock them in the same order (no
 * deadlock on Postgres).
 */
export function rollUpRowsSql(dataSource: DataSource, where: string): string {
  const day = createdDaySql(dataSource, 'created_at');
  return `INSERT INTO usage_daily (day, user_id, model, provider, ${DAILY_FIGURES.join(', ')})
    SELECT ${day}, user_id, model, MIN(provider), ${DAILY_FIGURES.map((f) => RAW_SUMS[f]).join(', ')}
    FROM usage_records WHERE ${where}
    GROUP BY ${day}, user_id, model ORDER BY 1, 2, 3
    ON CONFLICT (day, user_id, model) DO UPDATE SET
    ${DAILY_FIGURES.map((f) => `${f} = usage_daily.${f} + excluded.${f}`).join(', ')}`;
}
