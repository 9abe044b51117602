import { Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { AppConfig } from '@app/config';
import { createdAtParam, createdDaySql } from './usage-sql';

const DAY_MS = 86_400_000;
/** How often each instance rolls up; every run is safe next to another instance's. */
const ROLL_UP_INTERVAL_MS = 60 * 60_000;
/** The first run waits this long after start-up, off the start's critical path. */
const FIRST_RUN_DELAY_MS = 60_000;
/** Raw rows moved per statement, so no transaction holds locks on millions of rows. */
const ROWS_PER_BATCH = 10_000;

const SUMS = `COUNT(*), SUM(CASE WHEN status = 'success' THEN 0 ELSE 1 END), SUM(prompt_tokens),
  SUM(completion_tokens), SUM(cached_tokens), COALESCE(SUM(cost_micros), 0),
  SUM(CASE WHEN cost_micros IS NULL THEN 1 ELSE 0 END)`;
const DAILY_COLUMNS = `(day, user_id, model, provider, requests, failed_requests, prompt_tokens,
  completion_tokens, cached_tokens, cost_micros, cost_unknown_requests)`;
const ADD_TO_EXISTING = `ON CONFLICT (day, user_id, model) DO UPDATE SET
  requests = usage_daily.requests + excluded.requests,
  failed_requests = usage_daily.failed_requests + excluded.failed_requests,
  prompt_tokens = usage_daily.prompt_tokens + excluded.prompt_tokens,
  completion_tokens = usage_daily.completion_tokens + excluded.completion_tokens,
  cached_tokens = usage_daily.cached_tokens + excluded.cached_tokens,
  cost_micros = usage_daily.cost_micros + excluded.cost_micros,
  cost_unknown_requests = usage_daily.cost_unknown_requests + excluded.cost_unknown_requests`;

/**
 * Retention of the usage ledger: raw rows from before the last USAGE__RETENTION_DAYS whole UTC
 * days are added to `usage_daily` (per day × user × model) and deleted, in one step, so that
 * every row is counted exactly once and reports add up the same before and after.
 *
 * Several instances may run it at once. On Postgres one statement deletes the rows and upserts
 * their sums (`WITH moved AS (DELETE … RETURNING) INSERT … ON CONFLICT DO UPDATE`): a row that
 * another instance's statement deleted first is skipped by the second. On SQLite (one instance)
 * the INSERT and the DELETE share a transaction over the same bounded set of rows.
 */
@Injectable()
export class UsageRetention implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(UsageRetention.name);
  private readonly retentionDays: number;
  private timer?: NodeJS.Timeout;
  private running?: Promise<number>;

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    config: AppConfig,
  ) {
    this.retentionDays = config.usage.retentionDays;
  }

  onApplicationBootstrap(): void {
    const run = () => {
      this.running ??= this.rollUp()
        .catch((error: unknown) => {
          this.logger.warn({ err: error }, 'Usage roll-up failed; retried at the next run');
          return 0;
        })
        .finally(() => (this.running = undefined));
    };
    this.timer = setTimeout(() => {
      run();
      this.timer = setInterval(run, ROLL_UP_INTERVAL_MS);
      this.timer.unref();
    }, FIRST_RUN_DELAY_MS);
    this.timer.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    clearTimeout(this.timer);
    clearInterval(this.timer);
    await this.running;
  }

  /** The first UTC day whose raw rows are kept at `now`; earlier ones are rolled up. */
  cutoff(now = new Date()): Date {
    const today = Math.floor(now.getTime() / DAY_MS) * DAY_MS;
    return new Date(today - this.retentionDays * DAY_MS);
  }

  /** Rolls up and deletes every raw row from before `cutoff(now)`; returns how many. */
  async rollUp(now = new Date()): Promise<number> {
    const before = createdAtParam(this.dataSource, this.cutoff(now));
    let moved = 0;
    for (;;) {
      const batch =
        this.dataSource.options.type === 'postgres'
          ? await this.moveBatchPostgres(before)
          : await this.moveBatchSqlite(before);
      moved += batch;
      if (batch < ROWS_PER_BATCH) break;
    }
    if (moved) this.logger.log({ rows: moved }, 'Usage rows rolled up into daily totals');
    return moved;
  }

  private async moveBatchPostgres(before: unknown): Promise<number> {
    const day = createdDaySql(this.dataSource, 'created_at');
    const [row] = await this.dataSource.query<{ moved: string }[]>(
      `WITH moved AS (
         DELETE FROM usage_records WHERE id IN (
           SELECT id FROM usage_records WHERE created_at < $1 ORDER BY id LIMIT ${ROWS_PER_BATCH})
         RETURNING *),
       summed AS (
         INSERT INTO usage_daily ${DAILY_COLUMNS}
         SELECT ${day}, user_id, model, MIN(provider), ${SUMS}
         FROM moved GROUP BY ${day}, user_id, model
         ${ADD_TO_EXISTING})
       SELECT COUNT(*) AS moved FROM moved`,
      [before],
    );
    return Number(row.moved);
  }

  private async moveBatchSqlite(before: unknown): Promise<number> {
    const day = createdDaySql(this.dataSource, 'created_at');
    return this.dataSource.transaction(async (manager) => {
      const [last] = await manager.query<{ id: number | null }[]>(
        `SELECT MAX(id) AS id FROM (SELECT id FROM usage_records WHERE created_at < ? ORDER BY id LIMIT ${ROWS_PER_BATCH})`,
        [before],
      );
      if (last.id === null) return 0;
      const where = 'WHERE created_at < ? AND id <= ?';
      await manager.query(
        `INSERT INTO usage_daily ${DAILY_COLUMNS}
         SELECT ${day}, user_id, model, MIN(provider), ${SUMS}
         FROM usage_records ${where} GROUP BY ${day}, user_id, model
         ${ADD_TO_EXISTING}`,
        [before, last.id],
      );
      const [{ moved }] = await manager.query<{ moved: number }[]>(
        `SELECT COUNT(*) AS moved FROM usage_records ${where}`,
        [before, last.id],
      );
      await manager.query(`DELETE FROM usage_records ${where}`, [before, last.id]);
      return Number(moved);
    });
  }
}
