import { Column, Entity, Index } from 'typeorm';
import { ChatSettingsEntity } from '../../history/entities/chat-settings.entity';

/** A user's named chat settings, applied to a chat request or a session by `preset_id`. */
@Entity('presets')
@Index('idx_presets_user', ['userId', 'createdAt'])
export class Preset extends ChatSettingsEntity {
  @Column({ type: 'varchar', length: 100 })
  name: string;
}
