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
 * Levels of usage_spans: a span of level k sums 2^k UTC days (2 … 256) starting at a day number
 * (days since 1970-01-01) that 2^k divides. Any range of up to 366 days is a few days and at most
 * two spans per level (see `spansOf`), so a report across every user reads a few thousand rows
 * instead of one per day, user and model.
 */
export const SPAN_LEVELS = [1, 2, 3, 4, 5, 6, 7, 8] as const;

/** Where a roll-up statement reads from: the raw rows, or the daily roll-ups (the migration). */
export type RollUpSource = 'usage_records' | 'usage_daily';

/**
 * The statements that add the rows of `source` matching `where` (the driver's placeholders) to
 * usage_daily (from raw rows only) and to usage_spans, creating the missing rows. Keys are
 * written in order so that two instances adding to the same totals lock them in the same order
 * (no deadlock on Postgres).
 */
export function rollUpSql(dataSource: DataSource, source: RollUpSource, where: string): string[] {
  const raw = source === 'usage_records';
  const day = raw ? createdDaySql(dataSource, 'created_at') : 'day';
  const figures = DAILY_FIGURES.map((f) => (raw ? RAW_SUMS[f] : `SUM(${f})`)).join(', ');
  const upsert = (table: string, keys: [string, string][], from: string) => {
    const columns = keys.map(([column]) => column);
    const groups = keys.map(([, expression]) => expression).join(', ');
    return `INSERT INTO ${table} (${columns.join(', ')}, provider, ${DAILY_FIGURES.join(', ')})
      SELECT ${groups}, MIN(provider), ${figures}
      FROM ${from} WHERE ${where}
      GROUP BY ${groups} ORDER BY ${columns.map((_, i) => i + 1).join(', ')}
      ON CONFLICT (${columns.join(', ')}) DO UPDATE SET
      ${DAILY_FIGURES.map((f) => `${f} = ${table}.${f} + excluded.${f}`).join(', ')}`;
  };
  const levels = SPAN_LEVELS.map((level) => `SELECT ${level} AS level`).join(' UNION ALL ');
  const spans = upsert(
    'usage_spans',
    [
      ['level', 'levels.level'],
      ['start_day', `(${dayNumberSql(dataSource, day)} >> levels.level) << levels.level`],
      ['user_id', 'user_id'],
      ['model', 'model'],
    ],
    `${source} CROSS JOIN (${levels}) AS levels`,
  );
  if (!raw) return [spans];
  const daily = upsert(
    'usage_daily',
    [
      ['day', day],
      ['user_id', 'user_id'],
      ['model', 'model'],
    ],
    source,
  );
  return [daily, spans];
}

/** SQL of the day number (days since 1970-01-01) of a `YYYY-MM-DD` expression. */
function dayNumberSql(dataSource: DataSource, day: string): string {
  return dataSource.options.type === 'postgres'
    ? `(CAST(${day} AS date) - DATE '1970-01-01')`
    : `CAST(julianday(${day}) - 2440587.5 AS INTEGER)`;
}

/** Days since 1970-01-01 of a `YYYY-MM-DD` day (UTC). */
export function dayNumber(day: string): number {
  return Date.parse(`${day}T00:00:00.000Z`) / 86_400_000;
}

/** A day number as `YYYY-MM-DD`. */
export function dayOfNumber(dayNumber: number): string {
  return new Date(dayNumber * 86_400_000).toISOString().slice(0, 10);
}

/**
 * Covers the days `first` … `last` (day numbers, included) with as few pieces as possible:
 * single days (read from usage_daily) and spans (level, start day) of usage_spans, taking at
 * each step the longest span that starts there and fits.
 */
export function spansOf(
  first: number,
  last: number,
): { days: number[]; spans: { level: number; start: number }[] } {
  const days: number[] = [];
  const spans: { level: number; start: number }[] = [];
  for (let start = first; start <= last;) {
    let level = 0;
    for (const next of SPAN_LEVELS) {
      const size = 2 ** next;
      if (start % size !== 0 || start + size - 1 > last) break;
      level = next;
    }
    if (level === 0) days.push(start);
    else spans.push({ level, start });
    start += 2 ** level;
  }
  return { days, spans };
}
