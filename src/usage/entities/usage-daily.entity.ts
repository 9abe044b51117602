import { Column, Entity, PrimaryColumn } from 'typeorm';

/** Usage rows older than USAGE__RETENTION_DAYS, summed per UTC day, user and model. */
@Entity('usage_daily')
export class UsageDaily {
  /** `YYYY-MM-DD` (UTC). */
  @PrimaryColumn({ type: 'varchar', length: 10 })
  day: string;

  @PrimaryColumn({ name: 'user_id', type: 'varchar', length: 36 })
  userId: string;

  /** `provider/model`. */
  @PrimaryColumn({ type: 'varchar', length: 200 })
  model: string;

  @Column({ type: 'varchar', length: 50 })
  provider: string;

  @Column({ type: 'integer' })
  requests: number;

  @Column({ name: 'failed_requests', type: 'integer' })
  failedRequests: number;

  @Column({ name: 'prompt_tokens', type: 'bigint' })
  promptTokens: number | string;

  @Column({ name: 'completion_tokens', type: 'bigint' })
  completionTokens: number | string;

  @Column({ name: 'cached_tokens', type: 'bigint' })
  cachedTokens: number | string;

  /** Sum of the known costs in micro-dollars. */
  @Column({ name: 'cost_micros', type: 'bigint' })
  costMicros: number | string;

  /** Requests whose cost is unknown (not in cost_micros). */
  @Column({ name: 'cost_unknown_requests', type: 'integer' })
  costUnknownRequests: number;
}
