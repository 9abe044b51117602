import {
  BeforeApplicationShutdown,
  Injectable,
  Logger,
  OnApplicationShutdown,
  Optional,
} from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { AppConfig } from '@app/config';
import { MetricsService } from '../metrics/metrics.service';
import { UsageRecord } from './entities/usage-record.entity';
import { rollUpSql } from './usage-sql';

/** One provider attempt as the ledger stores it. */
export interface UsageEntry {
  userId: string;
  apiKeyId?: string;
  sessionId?: string;
  messageId?: string;
  provider: string;
  /** `provider/model`. */
  model: string;
  keyAlias?: string;
  promptTokens: number;
  completionTokens: number;
  cachedTokens: number;
  /** Micro-dollars; null when unknown. */
  costMicros: number | null;
  latencyMs: number;
  ttftMs?: number;
  status: string;
  fallbackStep: number;
  retry: number;
  createdAt: Date;
}

/** Rows per INSERT statement: far below SQLite's and Postgres' bound-parameter limits (17 each). */
const ROWS_PER_INSERT = 500;
/** Rows kept while the database is down; past this the oldest are dropped (logged, counted). */
const MAX_BUFFERED_ROWS = 100_000;

/**
 * Writes usage rows off the request's hot path: `record()` only buffers; the buffer is written
 * every USAGE__FLUSH_MS, or at once when it holds USAGE__FLUSH_ROWS rows, as multi-row INSERTs,
 * one write at a time. Each INSERT adds its rows' sums to the roll-ups (usage_daily and
 * usage_spans, what reports read) in the same transaction, so the roll-ups are always exactly
 * the rows written. A
 * failed write keeps its rows for the next one. At shutdown the buffer is written before the
 * database closes, and rows recorded while streams drain are written at once.
 */
@Injectable()
export class UsageLedger implements BeforeApplicationShutdown, OnApplicationShutdown {
  private readonly logger = new Logger(UsageLedger.name);
  private buffer: UsageEntry[] = [];
  private writing: Promise<void> | undefined;
  private readonly timer: NodeJS.Timeout;
  private readonly flushRows: number;
  private closing = false;

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    config: AppConfig,
    @Optional() private readonly metrics?: MetricsService,
  ) {
    this.flushRows = config.usage.flushRows;
    this.timer = setInterval(() => void this.flush(), config.usage.flushMs);
    this.timer.unref();
  }

  /** Buffers one attempt; never throws and never waits for the database. */
  record(entry: UsageEntry): void {
    this.buffer.push(entry);
    if (this.buffer.length > MAX_BUFFERED_ROWS) {
      const dropped = this.buffer.splice(0, this.buffer.length - MAX_BUFFERED_ROWS);
      this.metrics?.usageRowsDropped(dropped.length);
      this.logger.error(
        { dropped: dropped.length },
        'Usage ledger buffer full (database down?); oldest rows dropped',
      );
    }
    if (this.closing || this.buffer.length >= this.flushRows) void this.flush();
  }

  /** Rows recorded but not yet written. */
  get pending(): number {
    return this.buffer.length;
  }

  /** Writes everything buffered so far (waits for a write in progress first). */
  async flush(): Promise<void> {
    while (this.writing) await this.writing;
    if (this.buffer.length === 0) return;
    const rows = this.buffer;
    this.buffer = [];
    this.writing = this.write(rows).finally(() => (this.writing = undefined));
    await this.writing;
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.closing = true;
    clearInterval(this.timer);
    await this.flush();
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
    if (this.buffer.length) {
      this.logger.error({ lost: this.buffer.length }, 'Usage rows not written at shutdown');
    }
  }

  private async write(rows: UsageEntry[]): Promise<void> {
    let written = 0;
    try {
      for (; written < rows.length; written += ROWS_PER_INSERT) {
        await this.insertAndRollUp(rows.slice(written, written + ROWS_PER_INSERT));
      }
    } catch (error) {
      // Keep the unwritten rows, in order, ahead of the ones recorded meanwhile.
      this.buffer = rows.slice(written).concat(this.buffer);
      this.logger.warn(
        { err: error, pending: this.buffer.length },
        'Could not write usage rows; they stay buffered for the next write',
      );
    }
  }

  /** One INSERT of raw rows and the upsert of their daily sums, in one transaction. */
  private async insertAndRollUp(rows: UsageEntry[]): Promise<void> {
    const postgres = this.dataSource.options.type === 'postgres';
    await this.dataSource.transaction(async (manager) => {
      const insert = manager
        .createQueryBuilder()
        .insert()
        .into(UsageRecord)
        .values(rows.map(toRow))
        .updateEntity(false);
      if (postgres) {
        // Other instances insert meanwhile: the batch is exactly the ids this INSERT returns.
        const { raw } = await insert.returning('id').execute();
        const ids = (raw as { id: string }[]).map((row) => row.id);
        for (const sql of rollUpSql(this.dataSource, 'usage_records', 'id = ANY($1::bigint[])')) {
          await manager.query(sql, [ids]);
        }
      } else {
        // One writer (this ledger, one write at a time): the batch is every id past the last.
        const [{ last }] = await manager.query<{ last: number | null }[]>(
          'SELECT MAX(id) AS last FROM usage_records',
        );
        await insert.execute();
        for (const sql of rollUpSql(this.dataSource, 'usage_records', 'id > ?')) {
          await manager.query(sql, [last ?? 0]);
        }
      }
    });
  }
}

function toRow(entry: UsageEntry): Partial<UsageRecord> {
  return {
    userId: entry.userId,
    apiKeyId: entry.apiKeyId ?? null,
    sessionId: entry.sessionId ?? null,
    messageId: entry.messageId ?? null,
    provider: entry.provider,
    model: entry.model,
    keyAlias: entry.keyAlias ?? null,
    promptTokens: entry.promptTokens,
    completionTokens: entry.completionTokens,
    cachedTokens: entry.cachedTokens,
    costMicros: entry.costMicros,
    latencyMs: Math.round(entry.latencyMs),
    ttftMs: entry.ttftMs === undefined ? null : Math.round(entry.ttftMs),
    status: entry.status,
    fallbackStep: entry.fallbackStep,
    retry: entry.retry,
    createdAt: entry.createdAt,
  };
}
