import {
  Column,
  CreateDateColumn,
  Entity,
  Index,
  JoinColumn,
  ManyToOne,
  PrimaryColumn,
} from 'typeorm';
import type { FeedbackRating, MessageRole, MessageStatus } from '../history-store.interface';
import { ChatSession } from './chat-session.entity';

/**
 * One message of a session; `seq` orders it within the session (unique per session) and
 * `parent_id` places it in the session's message tree (null for a first message).
 */
@Entity('chat_messages')
@Index('idx_chat_messages_session_seq', ['sessionId', 'seq'], { unique: true })
// The crash-recovery sweeper's look-up of `pending` replies (migration 1765036800000).
@Index('idx_chat_messages_pending', ['createdAt'], { where: "status = 'pending'" })
@Index('idx_chat_messages_session_parent', ['sessionId', 'parentId'])
export class ChatMessage {
  @PrimaryColumn({ type: 'varchar', length: 36 })
  id: string;

  @Column({ name: 'session_id', type: 'varchar', length: 36 })
  sessionId: string;

  @ManyToOne(() => ChatSession, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'session_id' })
  session?: ChatSession;

  @Column({ type: 'integer' })
  seq: number;

  @Column({ name: 'parent_id', type: 'varchar', length: 36, nullable: true })
  parentId: string | null;

  @Column({ type: 'varchar', length: 16 })
  role: MessageRole;

  @Column({ type: 'text' })
  content: string;

  @Column({ type: 'varchar', length: 16, default: 'complete' })
  status: MessageStatus;

  @Column({ type: 'varchar', length: 200, nullable: true })
  model: string | null;

  @Column({ name: 'prompt_tokens', type: 'integer', nullable: true })
  promptTokens: number | null;

  @Column({ name: 'completion_tokens', type: 'integer', nullable: true })
  completionTokens: number | null;

  /** Client-safe reason for an `error` status (never provider text or secrets). */
  @Column({ type: 'text', nullable: true })
  error: string | null;

  /** The owner's rating of a reply: `up` or `down`; null when not rated. */
  @Column({ name: 'feedback_rating', type: 'varchar', length: 8, nullable: true })
  feedbackRating: FeedbackRating | null;

  @Column({ name: 'feedback_comment', type: 'text', nullable: true })
  feedbackComment: string | null;

  /** The files a user message attaches, as JSON `[{id, name, mediaType}]`; null when none. */
  @Column({ type: 'text', nullable: true })
  attachments: string | null;

  /**
   * An assistant reply's tool calls with their results, as JSON
   * `[{id, name, arguments, executedBy, round, result}]`; null when none.
   */
  @Column({ name: 'tool_calls', type: 'text', nullable: true })
  toolCalls: string | null;

  @CreateDateColumn({ name: 'created_at' })
  createdAt: Date;
}
