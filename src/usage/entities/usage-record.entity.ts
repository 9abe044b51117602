import { Column, CreateDateColumn, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

/**
 * One upstream provider attempt (each retry and each fallback model is its own row), as the usage
 * ledger writes it in batches. No foreign key to users: a batch must never fail because one user
 * was deleted meanwhile; UsageService.deleteForUser removes a user's rows.
 */
@Entity('usage_records')
@Index('idx_usage_records_user_created', ['userId', 'createdAt'])
@Index('idx_usage_records_created', ['createdAt'])
export class UsageRecord {
  @PrimaryGeneratedColumn('increment')
  id: number;

  @Column({ name: 'user_id', type: 'varchar', length: 36 })
  userId: string;

  /** The personal API key the request came through, when it did. */
  @Column({ name: 'api_key_id', type: 'varchar', length: 36, nullable: true })
  apiKeyId: string | null;

  @Column({ name: 'session_id', type: 'varchar', length: 36, nullable: true })
  sessionId: string | null;

  /** The assistant message the attempt answered, when it belongs to a stored exchange. */
  @Column({ name: 'message_id', type: 'varchar', length: 36, nullable: true })
  messageId: string | null;

  @Column({ type: 'varchar', length: 50 })
  provider: string;

  /** `provider/model`. */
  @Column({ type: 'varchar', length: 200 })
  model: string;

  /** Which configured key served the attempt (`groq#2`), never the key. */
  @Column({ name: 'key_alias', type: 'varchar', length: 60, nullable: true })
  keyAlias: string | null;

  @Column({ name: 'prompt_tokens', type: 'integer' })
  promptTokens: number;

  @Column({ name: 'completion_tokens', type: 'integer' })
  completionTokens: number;

  @Column({ name: 'cached_tokens', type: 'integer' })
  cachedTokens: number;

  /** Micro-dollars; null when the model has no price (unknown, never 0). */
  @Column({ name: 'cost_micros', type: 'bigint', nullable: true })
  costMicros: number | string | null;

  @Column({ name: 'latency_ms', type: 'integer' })
  latencyMs: number;

  @Column({ name: 'ttft_ms', type: 'integer', nullable: true })
  ttftMs: number | null;

  /** `success`, `aborted`, `timeout` or the upstream failure kind. */
  @Column({ type: 'varchar', length: 20 })
  status: string;

  /** 0 for the requested model, 1 for the first fallback model… */
  @Column({ name: 'fallback_step', type: 'smallint' })
  fallbackStep: number;

  /** 0 for the first attempt on this model, then 1, 2… */
  @Column({ type: 'smallint' })
  retry: number;

  @CreateDateColumn({ name: 'created_at' })
  createdAt: Date;
}
