import { Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { AppConfig } from '@app/config';
import { createdAtParam } from './usage-sql';

const DAY_MS = 86_400_000;
/** How often each instance deletes expired rows; every run is safe next to another's. */
const RUN_INTERVAL_MS = 60 * 60_000;
/** The first run waits this long after start-up, off the start's critical path. */
const FIRST_RUN_DELAY_MS = 60_000;
/** Raw rows deleted per statement, so no statement holds locks on millions of rows. */
const ROWS_PER_BATCH = 10_000;

/**
 * Retention of the usage ledger: raw rows from before the last USAGE__RETENTION_DAYS whole UTC
 * days are deleted. Nothing is lost for reports: every row was added to the daily roll-ups
 * (usage_daily) in the transaction that wrote it (UsageLedger), and reports read only those.
 * Several instances may run it at once: each statement deletes a bounded set of ids, and a row
 * another instance deleted first is simply not there any more.
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
      this.running ??= this.deleteExpired()
        .catch((error: unknown) => {
          this.logger.warn({ err: error }, 'Usage retention failed; retried at the next run');
          return 0;
        })
        .finally(() => (this.running = undefined));
    };
    this.timer = setTimeout(() => {
      run();
      this.timer = setInterval(run, RUN_INTERVAL_MS);
      this.timer.unref();
    }, FIRST_RUN_DELAY_MS);
    this.timer.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    clearTimeout(this.timer);
    clearInterval(this.timer);
    await this.running;
  }

  /** The first UTC day whose raw rows are kept at `now`; earlier ones are deleted. */
  cutoff(now = new Date()): Date {
    const today = Math.floor(now.getTime() / DAY_MS) * DAY_MS;
    return new Date(today - this.retentionDays * DAY_MS);
  }

  /** Deletes every raw row from before `cutoff(now)`; returns how many. */
  async deleteExpired(now = new Date()): Promise<number> {
    const before = createdAtParam(this.dataSource, this.cutoff(now));
    let deleted = 0;
    for (;;) {
      const { affected } = await this.dataSource
        .createQueryBuilder()
        .delete()
        .from('usage_records')
        .where(
          `id IN (SELECT id FROM usage_records WHERE created_at < :before ORDER BY id LIMIT ${ROWS_PER_BATCH})`,
          { before },
        )
        .execute();
      deleted += affected ?? 0;
      if (!affected || affected < ROWS_PER_BATCH) break;
    }
    if (deleted) this.logger.log({ rows: deleted }, 'Expired usage rows deleted');
    return deleted;
  }
}
