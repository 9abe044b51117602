import { Column, CreateDateColumn, Entity, Index } from 'typeorm';
import { UserOwnedEntity } from '../../users/entities/user-owned.entity';

export type EmailTokenPurpose = 'verify_email' | 'password_reset';

/** A single-use e-mail verification or password-reset token, stored only as its SHA-256. */
@Entity('email_tokens')
@Index(['userId'])
export class EmailToken extends UserOwnedEntity {
  @Column({ type: 'varchar', length: 20 })
  purpose: EmailTokenPurpose;

  @Column({ name: 'token_hash', type: 'varchar', length: 64, unique: true })
  tokenHash: string;

  @Column({ name: 'expires_at', type: Date })
  expiresAt: Date;

  @Column({ name: 'used_at', type: Date, nullable: true })
  usedAt: Date | null;

  @CreateDateColumn({ name: 'created_at' })
  createdAt: Date;
}
