import { Column, CreateDateColumn, Entity, Index, UpdateDateColumn } from 'typeorm';
import { UserOwnedEntity } from '../../users/entities/user-owned.entity';

/** A user's named chat settings, applied to a chat request or a session by `preset_id`. */
@Entity('presets')
@Index('idx_presets_user', ['userId', 'createdAt'])
export class Preset extends UserOwnedEntity {
  @Column({ type: 'varchar', length: 100 })
  name: string;

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
