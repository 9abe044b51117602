import { Column, Entity, JoinColumn, OneToOne, PrimaryColumn, UpdateDateColumn } from 'typeorm';
import { User } from '../../users/entities/user.entity';

/**
 * A user's own budget, set by an admin, in place of BUDGET__USD_PER_DAY / _PER_MONTH.
 * A null limit keeps the default; 0 means no limit for this user.
 */
@Entity('budget_overrides')
export class BudgetOverride {
  @PrimaryColumn({ name: 'user_id', type: 'varchar', length: 36 })
  userId: string;

  @OneToOne(() => User, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'user_id' })
  user?: User;

  /** Micro-dollars per UTC day. */
  @Column({ name: 'usd_micros_per_day', type: 'bigint', nullable: true })
  microsPerDay: number | string | null;

  /** Micro-dollars per UTC calendar month. */
  @Column({ name: 'usd_micros_per_month', type: 'bigint', nullable: true })
  microsPerMonth: number | string | null;

  @UpdateDateColumn({ name: 'updated_at' })
  updatedAt: Date;
}
