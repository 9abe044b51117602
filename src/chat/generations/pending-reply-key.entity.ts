import { Column, CreateDateColumn, Entity, JoinColumn, ManyToOne, PrimaryColumn } from 'typeorm';
import { ApiKey } from '../../api-keys/entities/api-key.entity';

/**
 * The personal API key a reply in the making was requested with, until its tokens are charged to
 * the key's daily quota: when the turn ends, or — after a crash — when the sweeper finishes the
 * reply as interrupted. Replies may live in MongoDB, so there is no foreign key to them; revoking
 * the key deletes the row (nothing left to charge).
 */
@Entity('pending_reply_keys')
export class PendingReplyKey {
  @PrimaryColumn({ name: 'message_id', type: 'varchar', length: 36 })
  messageId: string;

  @Column({ name: 'api_key_id', type: 'varchar', length: 36 })
  apiKeyId: string;

  @ManyToOne(() => ApiKey, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'api_key_id' })
  apiKey?: ApiKey;

  @CreateDateColumn({ name: 'created_at' })
  createdAt: Date;
}
