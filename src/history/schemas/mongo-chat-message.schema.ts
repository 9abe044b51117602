import { Prop, Schema, SchemaFactory } from '@nestjs/mongoose';
import type {
  FeedbackRating,
  MessageAttachment,
  MessageRole,
  MessageStatus,
  StoredToolCall,
} from '../history-store.interface';

/** One message in MongoDB. `userId` is copied from the session so search and erase scope by user. */
@Schema({ collection: 'chat_messages', versionKey: false })
export class MongoChatMessage {
  @Prop({ type: String, required: true })
  _id: string;

  @Prop({ type: String, required: true })
  sessionId: string;

  @Prop({ type: String, required: true })
  userId: string;

  @Prop({ type: Number, required: true })
  seq: number;

  /** The parent message; null for a root. Absent only on documents the tree migration has not reached. */
  @Prop({ type: String, default: null })
  parentId: string | null;

  @Prop({ type: String, required: true })
  role: MessageRole;

  @Prop({ type: String, default: '' })
  content: string;

  @Prop({ type: String, required: true })
  status: MessageStatus;

  @Prop({ type: String, default: null })
  model: string | null;

  @Prop({ type: Number, default: null })
  promptTokens: number | null;

  @Prop({ type: Number, default: null })
  completionTokens: number | null;

  @Prop({ type: String, default: null })
  error: string | null;

  @Prop({ type: String, default: null })
  feedbackRating?: FeedbackRating | null;

  @Prop({ type: String, default: null })
  feedbackComment?: string | null;

  /** Files a user message attaches; absent on messages without any. */
  @Prop({
    type: [{ _id: false, id: String, name: String, mediaType: String }],
    default: undefined,
  })
  attachments?: MessageAttachment[];

  /** An assistant reply's tool calls with their results; absent on messages without any. */
  @Prop({
    type: [
      {
        _id: false,
        id: String,
        name: String,
        arguments: String,
        executedBy: String,
        round: Number,
        result: { type: { _id: false, content: String, isError: Boolean }, default: null },
      },
    ],
    default: undefined,
  })
  toolCalls?: StoredToolCall[];

  @Prop({ type: Date, required: true })
  createdAt: Date;
}

export const MongoChatMessageSchema = SchemaFactory.createForClass(MongoChatMessage);
// Unique: the database itself refuses a second message with the same seq in a session.
MongoChatMessageSchema.index({ sessionId: 1, seq: 1 }, { unique: true });
// Search (`q`) and account erasure select a user's messages.
MongoChatMessageSchema.index({ userId: 1, sessionId: 1 });
// The crash-recovery sweeper's look-up of `pending` replies (plain, not partial: FerretDB).
MongoChatMessageSchema.index({ status: 1, createdAt: 1 });
