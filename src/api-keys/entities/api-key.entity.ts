import { Column, CreateDateColumn, Entity, Index } from 'typeorm';
import { UserOwnedEntity } from '../../users/entities/user-owned.entity';

/** A personal API key: only its HMAC is stored; revoking deletes the row (on every instance at once). */
@Entity('api_keys')
@Index(['userId'])
export class ApiKey extends UserOwnedEntity {
  @Column({ type: 'varchar', length: 100 })
  name: string;

  /** The first characters of the key (`sk-cb-` + 10), unique: the lookup of every request. */
  @Column({ type: 'varchar', length: 16, unique: true })
  prefix: string;

  /** HMAC-SHA-256 of the whole key under the server key (hex). */
  @Column({ name: 'key_hash', type: 'varchar', length: 64 })
  keyHash: string;

  /** Space-separated scopes (`chat history:read …`). */
  @Column({ type: 'varchar', length: 100 })
  scopes: string;

  /** This key's own requests per minute, on top of its user's limit; null = the user's only. */
  @Column({ name: 'rate_limit_per_minute', type: 'integer', nullable: true })
  rateLimitPerMinute: number | null;

  /** This key's own daily token quota, on top of its user's; null = QUOTA__API_KEY_TOKENS_PER_DAY. */
  @Column({ name: 'tokens_per_day', type: 'integer', nullable: true })
  tokensPerDay: number | null;

  @CreateDateColumn({ name: 'created_at' })
  createdAt: Date;

  @Column({ name: 'expires_at', type: Date, nullable: true })
  expiresAt: Date | null;

  @Column({ name: 'last_used_at', type: Date, nullable: true })
  lastUsedAt: Date | null;
}
