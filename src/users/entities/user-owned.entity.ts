import { Column, JoinColumn, ManyToOne, PrimaryColumn } from 'typeorm';
import { User } from './user.entity';

/**
 * The columns of a row that belongs to one user: a UUID id and `user_id`, deleted with the user
 * (ON DELETE CASCADE). Entities extend it; TypeORM copies the columns into each one's table.
 */
export abstract class UserOwnedEntity {
  @PrimaryColumn({ type: 'varchar', length: 36 })
  id: string;

  @Column({ name: 'user_id', type: 'varchar', length: 36 })
  userId: string;

  @ManyToOne(() => User, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'user_id' })
  user?: User;
}
