import { Prop, Schema, SchemaFactory } from '@nestjs/mongoose';

/** A conversation in MongoDB; the same fields as the SQL `chat_sessions` row, UUID string `_id`. */
@Schema({ collection: 'chat_sessions', versionKey: false })
export class MongoChatSession {
  @Prop({ type: String, required: true })
  _id: string;

  @Prop({ type: String, required: true })
  userId: string;

  @Prop({ type: String, default: null })
  title: string | null;

  /** Also the `seq` counter: appendMessage increments it and uses the new value. */
  @Prop({ type: Number, required: true, default: 0 })
  messageCount: number;

  @Prop({ type: String, default: null })
  lastMessage: string | null;

  /** The leaf of the active branch. Absent only on sessions written before the message tree. */
  @Prop({ type: String, default: null })
  activeLeafId: string | null;

  /** The conversation's own settings (see SessionSettings); absent on older documents. */
  @Prop({ type: String, default: null })
  systemPrompt?: string | null;

  @Prop({ type: String, default: null })
  model?: string | null;

  @Prop({ type: Number, default: null })
  temperature?: number | null;

  @Prop({ type: Number, default: null })
  maxTokens?: number | null;

  @Prop({ type: Date, required: true })
  createdAt: Date;

  @Prop({ type: Date, required: true })
  updatedAt: Date;
}

export const MongoChatSessionSchema = SchemaFactory.createForClass(MongoChatSession);
// "A user's sessions, newest first": equality on userId, then the sort keys in sort order.
MongoChatSessionSchema.index({ userId: 1, updatedAt: -1, _id: -1 });
