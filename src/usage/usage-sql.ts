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
 * Levels of usage_spans: a span of level k sums 2^k UTC days (1 … 256) starting at a day number
 * (days since 1970-01-01) that 2^k divides. Any range of up to 366 days is at most two spans per
 * level (see `spansOf`), so a report across every user reads a few spans instead of one row per
 * day, user and model.
 */
export const SPAN_LEVELS = [0, 1, 2, 3, 4, 5, 6, 7, 8] as const;
/** The `model` of a span row per user, and the `user_id` of a span row per model (all users). */
export const ANY = '';

/** Where a roll-up statement reads from: the raw rows, or the daily roll-ups (the migration). */
export type RollUpSource = 'usage_records' | 'usage_daily';

/**
 * The statements that add (`sign` 1) or take out (-1) the rows of `source` matching `where` (the
 * driver's placeholders): to usage_daily (from raw rows only), and to usage_spans per user (model
 * ANY) and per model (user ANY), creating the missing rows. Keys are written in order so that two
 * instances adding to the same totals lock them in the same order (no deadlock on Postgres).
 */
export function rollUpSql(
  dataSource: DataSource,
  source: RollUpSource,
  where: string,
  sign: 1 | -1 = 1,
): string[] {
  const raw = source === 'usage_records';
  const day = raw ? createdDaySql(dataSource, 'created_at') : 'day';
  const figures = DAILY_FIGURES.map((f) => {
    const sum = raw ? RAW_SUMS[f] : `SUM(${f})`;
    return sign === 1 ? sum : `-(${sum})`;
  }).join(', ');
  /** `keys`: column and expression; a constant expression is left out of GROUP BY. */
  const upsert = (table: string, keys: [string, string, 'constant'?][], from: string) => {
    const columns = keys.map(([column]) => column);
    const groups = keys.filter(([, , constant]) => !constant).map(([, expression]) => expression);
    return `INSERT INTO ${table} (${columns.join(', ')}, provider, ${DAILY_FIGURES.join(', ')})
      SELECT ${keys.map(([, expression]) => expression).join(', ')}, MIN(provider), ${figures}
      FROM ${from} WHERE ${where}
      GROUP BY ${groups.join(', ')} ORDER BY ${columns.map((_, i) => i + 1).join(', ')}
      ON CONFLICT (${columns.join(', ')}) DO UPDATE SET
      ${DAILY_FIGURES.map((f) => `${f} = ${table}.${f} + excluded.${f}`).join(', ')}`;
  };
  const levels = SPAN_LEVELS.map((level) => `SELECT ${level} AS level`).join(' UNION ALL ');
  const span = (user: string, model: string, constant: 'user' | 'model') =>
    upsert(
      'usage_spans',
      [
        ['level', 'levels.level'],
        ['start_day', `(${dayNumberSql(dataSource, day)} >> levels.level) << levels.level`],
        ['user_id', user, constant === 'user' ? 'constant' : undefined],
        ['model', model, constant === 'model' ? 'constant' : undefined],
      ],
      `${source} CROSS JOIN (${levels}) AS levels`,
    );
  const spans = [span('user_id', `'${ANY}'`, 'model'), span(`'${ANY}'`, 'model', 'user')];
  if (!raw) return spans;
  const daily = upsert(
    'usage_daily',
    [
      ['day', day],
      ['user_id', 'user_id'],
      ['model', 'model'],
    ],
    source,
  );
  return [daily, ...spans];
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
 * Covers the days `first` … `last` (day numbers, included) with as few spans (level, start day)
 * of usage_spans as possible, taking at each step the longest span that starts there and fits.
 */
export function spansOf(first: number, last: number): { level: number; start: number }[] {
  const spans: { level: number; start: number }[] = [];
  for (let start = first; start <= last;) {
    let level = 0;
    for (const next of SPAN_LEVELS) {
      const size = 2 ** next;
      if (start % size !== 0 || start + size - 1 > last) break;
      level = next;
    }
    spans.push({ level, start });
    start += 2 ** level;
  }
  return spans;
}
