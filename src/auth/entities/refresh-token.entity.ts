import { Column, CreateDateColumn, Entity, Index } from 'typeorm';
import { UserOwnedEntity } from '../../users/entities/user-owned.entity';

/** A refresh token, stored only as its SHA-256. Tokens of one login share a family for reuse detection. */
@Entity('refresh_tokens')
@Index(['userId'])
export class RefreshToken extends UserOwnedEntity {
  @Index()
  @Column({ name: 'family_id', type: 'varchar', length: 36 })
  familyId: string;

  @Column({ name: 'token_hash', type: 'varchar', length: 64, unique: true })
  tokenHash: string;

  @Column({ name: 'expires_at', type: Date })
  expiresAt: Date;

  /** Set when the token was exchanged; presenting it again is reuse. */
  @Column({ name: 'used_at', type: Date, nullable: true })
  usedAt: Date | null;

  @Column({ name: 'revoked_at', type: Date, nullable: true })
  revokedAt: Date | null;

  @CreateDateColumn({ name: 'created_at' })
  createdAt: Date;
}
