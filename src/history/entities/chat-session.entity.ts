import { Column, Entity, Index } from 'typeorm';
import { ChatSettingsEntity } from './chat-settings.entity';

/**
 * A conversation with its own settings. Counters and preview are denormalised so the session
 * list never scans messages.
 */
@Entity('chat_sessions')
@Index('idx_chat_sessions_user_updated', ['userId', 'updatedAt', 'id'])
export class ChatSession extends ChatSettingsEntity {
  @Column({ type: 'varchar', length: 200, nullable: true })
  title: string | null;

  @Column({ name: 'message_count', type: 'integer', default: 0 })
  messageCount: number;

  @Column({ name: 'last_message', type: 'text', nullable: true })
  lastMessage: string | null;

  /** The leaf of the active branch (see SessionRecord.activeLeafId). */
  @Column({ name: 'active_leaf_id', type: 'varchar', length: 36, nullable: true })
  activeLeafId: string | null;
}
