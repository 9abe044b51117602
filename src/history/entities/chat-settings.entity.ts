import { Column, CreateDateColumn, UpdateDateColumn } from 'typeorm';
import { UserOwnedEntity } from '../../users/entities/user-owned.entity';

/**
 * A user's row that carries chat settings (null: the app's default; see SessionSettings): a
 * conversation's own, or a named preset's.
 */
export abstract class ChatSettingsEntity extends UserOwnedEntity {
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
