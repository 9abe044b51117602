import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, type ObjectLiteral, type SelectQueryBuilder } from 'typeorm';
import { InvalidInputError } from '@app/common';
import {
  type AdminUsageGrouping,
  MAX_USAGE_RANGE_DAYS,
  type UsageFiguresDto,
  type UsageGrouping,
  type UsageItemDto,
  type UsageReportDto,
} from './dto/usage.dto';
import { microsToUsd } from './price-catalog';
import { createdAtParam, createdDaySql } from './usage-sql';

const DAY_MS = 86_400_000;

/** Sums as the database returns them (bigint sums come back as strings on Postgres). */
type RawFigures = Record<
  | 'requests'
  | 'failed_requests'
  | 'prompt_tokens'
  | 'completion_tokens'
  | 'cached_tokens'
  | 'cost_micros'
  | 'cost_unknown_requests',
  string | number | null
> & { key: string };

/** Figures in integers (micro-dollars) while rows are added up. */
interface Figures {
  requests: number;
  failedRequests: number;
  promptTokens: number;
  completionTokens: number;
  cachedTokens: number;
  costMicros: number;
  costUnknownRequests: number;
}

/** Per-user totals over a period, for reports and the admin views. */
export interface UserUsageTotals extends Figures {
  userId: string;
}

/**
 * Usage reports over the ledger. Rows younger than USAGE__RETENTION_DAYS are read raw; older
 * ones from the daily roll-up. Every row lives in exactly one of the two (retention moves rows
 * in one statement), so a range spanning both adds up exactly.
 */
@Injectable()
export class UsageService {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /** The caller's usage from `from` to `to` (UTC days, included), grouped by day or model. */
  async report(
    userId: string,
    query: { from?: string; to?: string; group_by?: UsageGrouping },
    now = new Date(),
  ): Promise<UsageReportDto> {
    return this.build({ userId }, query, query.group_by ?? 'day', now);
  }

  /**
   * Usage of every user from `from` to `to` (UTC days, included), grouped by user, model,
   * provider or day: the admin report. With group_by=user the ids are the keys.
   */
  async reportAll(
    query: { from?: string; to?: string; group_by?: AdminUsageGrouping },
    now = new Date(),
  ): Promise<UsageReportDto> {
    return this.build({}, query, query.group_by ?? 'user', now);
  }

  private async build(
    who: { userId?: string },
    query: { from?: string; to?: string },
    groupBy: AdminUsageGrouping,
    now: Date,
  ): Promise<UsageReportDto> {
    const to = query.to ?? isoDay(now);
    const from = query.from ?? `${to.slice(0, 7)}-01`;
    const range = checkRange(from, to);
    const groups = await this.figures(who, range, groupBy);
    const items = [...groups.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([key, figures]): UsageItemDto => ({ [groupBy]: key, ...toDto(figures) }));
    const totals = [...groups.values()].reduce(add, emptyFigures());
    return { from, to, group_by: groupBy, totals: toDto(totals), items };
  }

  /**
   * Totals per user from `from` to `to` (UTC days, included): for admin listings. `userIds`
   * limits the users read; without it every user with usage is returned.
   */
  async totalsByUser(from: string, to: string, userIds?: string[]): Promise<UserUsageTotals[]> {
    const range = checkRange(from, to);
    if (userIds?.length === 0) return [];
    const groups = await this.figures({ userIds }, range, 'user');
    return [...groups.entries()].map(([userId, figures]) => ({ userId, ...figures }));
  }

  /** Removes every usage row of a user (raw and rolled up), e.g. when the account is deleted. */
  async deleteForUser(userId: string): Promise<void> {
    await this.dataSource.transaction(async (manager) => {
      for (const table of ['usage_records', 'usage_daily']) {
        await manager
          .createQueryBuilder()
          .delete()
          .from(table)
          .where('user_id = :userId', { userId })
          .execute();
      }
    });
  }

  private async figures(
    who: { userId?: string; userIds?: string[] },
    range: DayRange,
    groupBy: AdminUsageGrouping,
  ): Promise<Map<string, Figures>> {
    const rawKey = {
      day: createdDaySql(this.dataSource, 'r.created_at'),
      model: 'r.model',
      provider: 'r.provider',
      user: 'r.user_id',
    }[groupBy];
    const bound = (date: Date) => createdAtParam(this.dataSource, date);

    const raw = selectSums(this.dataSource.createQueryBuilder(), rawKey, RAW_SUMS)
      .from('usage_records', 'r')
      .where('r.created_at >= :start AND r.created_at < :end', {
        start: bound(range.start),
        end: bound(range.end),
      })
      .groupBy(rawKey);
    const dailyKey = {
      day: 'd.day',
      model: 'd.model',
      provider: 'd.provider',
      user: 'd.user_id',
    }[groupBy];
    const daily = selectSums(this.dataSource.createQueryBuilder(), dailyKey, DAILY_SUMS)
      .from('usage_daily', 'd')
      .where('d.day >= :from AND d.day <= :to', { from: range.from, to: range.to })
      .groupBy(dailyKey);
    if (who.userId !== undefined) {
      raw.andWhere('r.user_id = :userId', { userId: who.userId });
      daily.andWhere('d.user_id = :userId', { userId: who.userId });
    } else if (who.userIds) {
      raw.andWhere('r.user_id IN (:...userIds)', { userIds: who.userIds });
      daily.andWhere('d.user_id IN (:...userIds)', { userIds: who.userIds });
    }
    const [rawRows, dailyRows] = await Promise.all([
      raw.getRawMany<RawFigures>(),
      daily.getRawMany<RawFigures>(),
    ]);
    const groups = new Map<string, Figures>();
    for (const row of [...rawRows, ...dailyRows]) {
      groups.set(row.key, add(groups.get(row.key) ?? emptyFigures(), fromRaw(row)));
    }
    return groups;
  }
}

/** The figures of a report as SQL sums over raw rows (alias `r`)… */
const RAW_SUMS: readonly (readonly [string, string])[] = [
  ['requests', 'COUNT(*)'],
  ['failed_requests', "SUM(CASE WHEN r.status = 'success' THEN 0 ELSE 1 END)"],
  ['prompt_tokens', 'SUM(r.prompt_tokens)'],
  ['completion_tokens', 'SUM(r.completion_tokens)'],
  ['cached_tokens', 'SUM(r.cached_tokens)'],
  ['cost_micros', 'SUM(r.cost_micros)'],
  ['cost_unknown_requests', 'SUM(CASE WHEN r.cost_micros IS NULL THEN 1 ELSE 0 END)'],
];
/** …and over daily roll-ups (alias `d`), whose columns carry the same names. */
const DAILY_SUMS = RAW_SUMS.map(([name]) => [name, `SUM(d.${name})`] as const);

function selectSums(
  query: SelectQueryBuilder<ObjectLiteral>,
  key: string,
  sums: readonly (readonly [string, string])[],
): SelectQueryBuilder<ObjectLiteral> {
  query.select(key, 'key');
  for (const [name, sql] of sums) query.addSelect(sql, name);
  return query;
}

interface DayRange {
  from: string;
  to: string;
  /** Start of `from`, UTC. */
  start: Date;
  /** Start of the day after `to`, UTC. */
  end: Date;
}

/** Validates a from/to pair of days (400 naming the field) and returns its bounds. */
export function checkRange(from: string, to: string): DayRange {
  const start = parseDay('from', from);
  const last = parseDay('to', to);
  if (start > last) {
    throw new InvalidInputError('from must not be after to', [
      { field: 'from', message: 'must not be after to' },
    ]);
  }
  const days = (last.getTime() - start.getTime()) / DAY_MS + 1;
  if (days > MAX_USAGE_RANGE_DAYS) {
    throw new InvalidInputError(
      `the range from ${from} to ${to} covers ${days} days; at most ${MAX_USAGE_RANGE_DAYS}`,
      [{ field: 'to', message: `must be at most ${MAX_USAGE_RANGE_DAYS} days after from` }],
    );
  }
  return { from, to, start, end: new Date(last.getTime() + DAY_MS) };
}

function parseDay(field: string, value: string): Date {
  const date = new Date(`${value}T00:00:00.000Z`);
  if (
    !/^\d{4}-\d{2}-\d{2}$/.test(value) ||
    Number.isNaN(date.getTime()) ||
    isoDay(date) !== value
  ) {
    throw new InvalidInputError(`${field} must be a real date YYYY-MM-DD`, [
      { field, message: 'must be a real date YYYY-MM-DD' },
    ]);
  }
  return date;
}

/** `YYYY-MM-DD` of a date in UTC. */
export function isoDay(date: Date): string {
  return date.toISOString().slice(0, 10);
}

function emptyFigures(): Figures {
  return {
    requests: 0,
    failedRequests: 0,
    promptTokens: 0,
    completionTokens: 0,
    cachedTokens: 0,
    costMicros: 0,
    costUnknownRequests: 0,
  };
}

function fromRaw(row: RawFigures): Figures {
  const n = (value: string | number | null) => Number(value ?? 0);
  return {
    requests: n(row.requests),
    failedRequests: n(row.failed_requests),
    promptTokens: n(row.prompt_tokens),
    completionTokens: n(row.completion_tokens),
    cachedTokens: n(row.cached_tokens),
    costMicros: n(row.cost_micros),
    costUnknownRequests: n(row.cost_unknown_requests),
  };
}

function add(a: Figures, b: Figures): Figures {
  return {
    requests: a.requests + b.requests,
    failedRequests: a.failedRequests + b.failedRequests,
    promptTokens: a.promptTokens + b.promptTokens,
    completionTokens: a.completionTokens + b.completionTokens,
    cachedTokens: a.cachedTokens + b.cachedTokens,
    costMicros: a.costMicros + b.costMicros,
    costUnknownRequests: a.costUnknownRequests + b.costUnknownRequests,
  };
}

function toDto(f: Figures): UsageFiguresDto {
  return {
    requests: f.requests,
    failed_requests: f.failedRequests,
    prompt_tokens: f.promptTokens,
    completion_tokens: f.completionTokens,
    cached_tokens: f.cachedTokens,
    tokens: f.promptTokens + f.completionTokens,
    cost_usd: microsToUsd(f.costMicros),
    cost_unknown_requests: f.costUnknownRequests,
  };
}
