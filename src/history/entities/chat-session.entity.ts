import { Column, CreateDateColumn, Entity, Index, UpdateDateColumn } from 'typeorm';
import { UserOwnedEntity } from '../../users/entities/user-owned.entity';

/** A conversation. Counters and preview are denormalised so the session list never scans messages. */
@Entity('chat_sessions')
@Index('idx_chat_sessions_user_updated', ['userId', 'updatedAt', 'id'])
export class ChatSession extends UserOwnedEntity {
  @Column({ type: 'varchar', length: 200, nullable: true })
  title: string | null;

  @Column({ name: 'message_count', type: 'integer', default: 0 })
  messageCount: number;

  @Column({ name: 'last_message', type: 'text', nullable: true })
  lastMessage: string | null;

  /** The leaf of the active branch (see SessionRecord.activeLeafId). */
  @Column({ name: 'active_leaf_id', type: 'varchar', length: 36, nullable: true })
  activeLeafId: string | null;

  /** The conversation's own settings (null: the app's default); see SessionSettings. */
  @Column({ name: 'system_prompt', type: 'text', nullable: true })
  systemPrompt: string | null;

  @Column({ type: 'varchar', length: 200, nullable: true })
  model: string | null;

  @Column({ type: 'double precision', nullable: true })
  temperature: number | null;

  @Column({ name: 'max_tokens', type: 'integer', nullable: true })
  maxTokens: number | null;

  @CreateDateColumn({ name: 'created_at' })
  createdAt: Date;

  @UpdateDateColumn({ name: 'updated_at' })
  updatedAt: Date;
}
