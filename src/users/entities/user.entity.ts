import { Column, CreateDateColumn, Entity, PrimaryColumn, UpdateDateColumn } from 'typeorm';

/** What an account may do: `admin` also reaches `/api/admin/*`. */
export const USER_ROLES = ['user', 'admin'] as const;
export type UserRole = (typeof USER_ROLES)[number];

@Entity('users')
export class User {
  @PrimaryColumn({ type: 'varchar', length: 36 })
  id: string;

  /** Lower-cased and trimmed at the edge; unique. */
  @Column({ type: 'varchar', length: 254, unique: true })
  email: string;

  @Column({ name: 'password_hash', type: 'varchar', length: 100 })
  passwordHash: string;

  @Column({ name: 'is_active', type: 'boolean', default: true })
  isActive: boolean;

  @Column({ name: 'email_verified', type: 'boolean', default: false })
  emailVerified: boolean;

  @Column({ type: 'varchar', length: 16, default: 'user' })
  role: UserRole;

  /** Chat requests per minute for this user instead of QUOTA__REQUESTS_PER_MINUTE; null: the default. */
  @Column({ name: 'requests_per_minute_limit', type: 'integer', nullable: true })
  requestsPerMinuteLimit: number | null;

  /** Tokens per UTC day for this user instead of QUOTA__TOKENS_PER_DAY; null: the default. */
  @Column({ name: 'tokens_per_day_limit', type: 'integer', nullable: true })
  tokensPerDayLimit: number | null;

  @CreateDateColumn({ name: 'created_at' })
  createdAt: Date;

  @UpdateDateColumn({ name: 'updated_at' })
  updatedAt: Date;
}
