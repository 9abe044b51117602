import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, type ObjectLiteral, type SelectQueryBuilder } from 'typeorm';
import { InvalidInputError } from '@app/common';
import { driverSql } from '../database/driver-sql';
import {
  type AdminUsageGrouping,
  MAX_USAGE_RANGE_DAYS,
  type UsageFiguresDto,
  type UsageGrouping,
  type UsageItemDto,
  type UsageReportDto,
} from './dto/usage.dto';
import { microsToUsd } from './price-catalog';
import { ANY, DAILY_FIGURES, dayNumber, dayOfNumber, rollUpSql, spansOf } from './usage-sql';

const DAY_MS = 86_400_000;

/** Sums as the database returns them (bigint sums come back as strings on Postgres). */
type RawFigures = Record<(typeof DAILY_FIGURES)[number], string | number | null> & {
  key: string;
};

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
 * Usage reports over the ledger, read from the roll-ups (usage_daily: per UTC day × user × model;
 * usage_spans: per aligned span of 2^level days × user, and × model), which the ledger keeps
 * current in the transaction of every batch it writes. A report reads a number of rows bounded by days, users
 * and models whatever the number of calls, and retention (which deletes only raw rows) changes
 * nothing in it.
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

  /**
   * Removes every usage row of a user (raw and rolled up), e.g. when the account is deleted, and
   * takes the user's figures out of the per-model spans across users.
   */
  async deleteForUser(userId: string): Promise<void> {
    const byUser = driverSql(this.dataSource, 'user_id = ?');
    const [, perModel] = rollUpSql(this.dataSource, 'usage_daily', byUser, -1);
    await this.dataSource.transaction(async (manager) => {
      await manager.query(perModel, [userId]);
      await manager.query(`DELETE FROM usage_spans WHERE ${byUser} AND requests = 0`, [ANY]);
      for (const table of ['usage_records', 'usage_daily', 'usage_spans']) {
        await manager
          .createQueryBuilder()
          .delete()
          .from(table)
          .where('user_id = :userId', { userId })
          .execute();
      }
    });
  }

  /**
   * The figures per `groupBy` key. One user (or a few): their usage_daily rows of the range.
   * Every user: the spans of usage_spans covering the range (see spansOf), per user or per
   * model; per day, the one-day spans per model.
   */
  private async figures(
    who: { userId?: string; userIds?: string[] },
    range: DayRange,
    groupBy: AdminUsageGrouping,
  ): Promise<Map<string, Figures>> {
    const column = { day: 'day', model: 'model', provider: 'provider', user: 'user_id' }[groupBy];
    const sums = (table: 'usage_daily' | 'usage_spans', key: string) => {
      const query = this.dataSource.createQueryBuilder().select(`t.${key}`, 'key');
      for (const name of DAILY_FIGURES) query.addSelect(`SUM(t.${name})`, name);
      return query.from(table, 't').groupBy(`t.${key}`);
    };
    let query: SelectQueryBuilder<ObjectLiteral>;
    if (who.userId !== undefined || who.userIds) {
      query = sums('usage_daily', column).where('t.day >= :from AND t.day <= :to', {
        from: range.from,
        to: range.to,
      });
      if (who.userId !== undefined) query.andWhere('t.user_id = :userId', who);
      else query.andWhere('t.user_id IN (:...userIds)', who);
    } else if (groupBy === 'day') {
      query = sums('usage_spans', 'start_day')
        .where('t.level = 0 AND t.start_day >= :first AND t.start_day <= :last', {
          first: dayNumber(range.from),
          last: dayNumber(range.to),
        })
        .andWhere('t.user_id = :any', { any: ANY });
    } else {
      const params: Record<string, number> = {};
      const matches = spansOf(dayNumber(range.from), dayNumber(range.to)).map(
        ({ level, start }, i) => {
          Object.assign(params, { [`level${i}`]: level, [`start${i}`]: start });
          return `(t.level = :level${i} AND t.start_day = :start${i})`;
        },
      );
      query = sums('usage_spans', column)
        .where(`(${matches.join(' OR ')})`, params)
        .andWhere(groupBy === 'user' ? 't.model = :any' : 't.user_id = :any', { any: ANY });
    }
    const rows = await query.getRawMany<RawFigures>();
    const key = (row: RawFigures) =>
      groupBy === 'day' && !who.userId && !who.userIds ? dayOfNumber(Number(row.key)) : row.key;
    return new Map(rows.map((row) => [key(row), fromRaw(row)]));
  }
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
