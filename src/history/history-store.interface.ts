export type MessageRole = 'system' | 'user' | 'assistant';
/** `pending` while a reply is being generated; `complete`, `error` or `aborted` once it ended. */
export type MessageStatus = 'pending' | 'complete' | 'error' | 'aborted';

export type FeedbackRating = 'up' | 'down';

/** A user's rating of an assistant reply. */
export interface MessageFeedback {
  rating: FeedbackRating;
  comment: string | null;
}

/**
 * A conversation's own defaults for its turns (null: the app's default); a chat request's own
 * values override them for that turn only.
 */
export interface SessionSettings {
  systemPrompt: string | null;
  model: string | null;
  temperature: number | null;
  maxTokens: number | null;
}

/** Settings with nothing set. */
export const NO_SETTINGS: SessionSettings = Object.freeze({
  systemPrompt: null,
  model: null,
  temperature: null,
  maxTokens: null,
});

/** A file a user message attaches: a reference (the file itself belongs to the files module). */
export interface MessageAttachment {
  id: string;
  name: string;
  mediaType: string;
}

/** What a tool returned for a call: its text, and whether it is the reason the tool failed. */
export interface ToolCallResult {
  content: string;
  isError: boolean;
}

/** A tool call an assistant reply made, with its result once the server or the client gave one. */
export interface StoredToolCall {
  id: string;
  name: string;
  /** The arguments as the model wrote them (JSON text, not necessarily valid). */
  arguments: string;
  /** A deployment's server-side tool ran it, or the chat client was asked to. */
  executedBy: 'server' | 'client';
  /**
   * The model call of the reply that made it (0 first): a reply with server-side tools calls the
   * model again after each round of results, and the context replays the rounds in order.
   */
  round: number;
  /** Null while the client has not answered it yet. */
  result: ToolCallResult | null;
}

export interface SessionRecord {
  id: string;
  userId: string;
  title: string | null;
  messageCount: number;
  /** Preview of the newest message's text. */
  lastMessage: string | null;
  /**
   * The leaf of the active branch: "the conversation" is the path from the root to it. The
   * newest appended message, or the one a switch selected; null while the session is empty.
   */
  activeLeafId: string | null;
  settings: SessionSettings;
  createdAt: Date;
  updatedAt: Date;
}

export interface MessageRecord {
  id: string;
  sessionId: string;
  /** Position within the session, 1-based, strictly increasing (a parent's is below its children's). */
  seq: number;
  /** The message this one answers or follows; null for a first message (a root). */
  parentId: string | null;
  role: MessageRole;
  content: string;
  status: MessageStatus;
  model: string | null;
  promptTokens: number | null;
  completionTokens: number | null;
  /** Client-safe reason for status `error`. */
  error: string | null;
  /** The owner's rating of this reply, or null. */
  feedback: MessageFeedback | null;
  /** Files the message attaches, in order (empty for most). */
  attachments: MessageAttachment[];
  /** The tool calls of an assistant reply, in the order made (empty for most). */
  toolCalls: StoredToolCall[];
  createdAt: Date;
}

export interface NewMessage {
  /**
   * The parent (a message of the same session, or null for a new root). Undefined: the session's
   * active leaf at the time of the append, so plain appends build a chain.
   */
  parentId?: string | null;
  role: MessageRole;
  content: string;
  status: MessageStatus;
  model?: string | null;
  promptTokens?: number | null;
  completionTokens?: number | null;
  error?: string | null;
  attachments?: MessageAttachment[];
}

export type MessagePatch = Partial<
  Pick<
    MessageRecord,
    'content' | 'status' | 'model' | 'promptTokens' | 'completionTokens' | 'error' | 'toolCalls'
  >
>;

/** A reply still `pending` in the store, with its owner (crash recovery finds them). */
export interface PendingReply {
  messageId: string;
  sessionId: string;
  userId: string;
  /** The text as of the last checkpoint. */
  content: string;
  model: string | null;
  createdAt: Date;
}

/** Where a message sits in the tree: enough to compute paths and siblings without the text. */
export interface TreeNode {
  id: string;
  parentId: string | null;
  seq: number;
}

/** The text so far of a reply that is still being generated (see HistoryStore.checkpointReplies). */
export interface ReplyCheckpoint {
  sessionId: string;
  messageId: string;
  content: string;
}

/** What a user's stored history adds up to (the admin user list). */
export interface HistoryUsage {
  sessions: number;
  messages: number;
  promptTokens: number;
  completionTokens: number;
}

export interface PageRequest {
  /** 1-based. */
  page: number;
  perPage: number;
}

export interface Page<T> {
  items: T[];
  total: number;
}

/**
 * Where conversations live (the implementations: docs/HISTORY_STORES.md). Every method taking a
 * userId scopes to that user: another user's session behaves exactly like a missing one.
 */
export abstract class HistoryStore {
  abstract createSession(
    userId: string,
    title?: string | null,
    settings?: SessionSettings,
  ): Promise<SessionRecord>;
  /**
   * Changes the given settings (undefined: unchanged, null: cleared) of the user's session; null
   * when it is not theirs. Not activity: updatedAt stays.
   */
  abstract updateSettings(
    userId: string,
    sessionId: string,
    patch: Partial<SessionSettings>,
  ): Promise<SessionRecord | null>;
  /** The session if it exists and belongs to `userId`, else null. */
  abstract getSession(userId: string, sessionId: string): Promise<SessionRecord | null>;
  /** Newest first (by updatedAt, then id). `query` matches message text, case-insensitive. */
  abstract listSessions(
    userId: string,
    page: PageRequest,
    query?: string,
  ): Promise<Page<SessionRecord>>;
  abstract renameSession(
    userId: string,
    sessionId: string,
    title: string,
  ): Promise<SessionRecord | null>;
  /** True when a session of this user was deleted (with its messages). */
  abstract deleteSession(userId: string, sessionId: string): Promise<boolean>;
  abstract deleteAllForUser(userId: string): Promise<void>;
  /** Totals of each given user's stored history; users without any are left out of the map. */
  abstract usageByUser(userIds: string[]): Promise<Map<string, HistoryUsage>>;
  /**
   * Appends a message with the next `seq`, and updates the session's messageCount,
   * lastMessage, updatedAt and activeLeafId (the new message) in the same step.
   */
  abstract appendMessage(sessionId: string, message: NewMessage): Promise<MessageRecord>;
  /**
   * Appends messages in order with the next `seq` numbers (e.g. the user's message and the
   * pending reply of a chat turn), updating the session like appendMessage. The SQL stores do it
   * in one transaction; MongoDB has none, so there they are appended one after the other.
   * The first message's parent is its `parentId` (or the active leaf); each later one's parent is
   * the message before it. The last one becomes the session's active leaf.
   */
  abstract appendMessages(sessionId: string, messages: NewMessage[]): Promise<MessageRecord[]>;
  /** Updates a message (e.g. the assistant reply when it ends) and the session preview. */
  abstract updateMessage(
    sessionId: string,
    messageId: string,
    patch: MessagePatch,
  ): Promise<MessageRecord>;
  /** Makes `leafId` (a message of the session) the active leaf; null when either is unknown. */
  abstract setActiveLeaf(
    userId: string,
    sessionId: string,
    leafId: string,
  ): Promise<SessionRecord | null>;
  /**
   * Sets (or, with null, removes) the feedback on a message of the session; the updated message,
   * or null when it is not in the session. Not activity: the session's updatedAt stays.
   */
  abstract setFeedback(
    sessionId: string,
    messageId: string,
    feedback: MessageFeedback | null,
  ): Promise<MessageRecord | null>;
  /**
   * Stores a whole conversation built elsewhere (an import): the session and its messages, with
   * their ids, seq numbers and parents as given, all or nothing. Throws when any part is refused
   * (then nothing of it is stored).
   */
  abstract importSession(session: SessionRecord, messages: MessageRecord[]): Promise<void>;
  /** Every message of the session as a tree node, by seq (oldest first). */
  abstract listTreeNodes(sessionId: string): Promise<TreeNode[]>;
  /** The messages of the session with these ids, by seq; unknown ids are left out. */
  abstract getMessages(sessionId: string, ids: string[]): Promise<MessageRecord[]>;
  /** Oldest first (every branch, by seq). */
  abstract listMessages(sessionId: string, page: PageRequest): Promise<Page<MessageRecord>>;
  /** The newest `limit` messages, returned oldest first (context building). */
  abstract recentMessages(sessionId: string, limit: number): Promise<MessageRecord[]>;
  /**
   * Like updateMessage, but only while the message is still `pending` (two instances finishing
   * the same interrupted reply store it once); false when it was not.
   */
  abstract finishPendingReply(
    sessionId: string,
    messageId: string,
    patch: MessagePatch,
  ): Promise<boolean>;
  /**
   * Saves the text so far of many streaming replies in one write: each message that is still
   * `pending` in its session gets `content`, and its session the new updatedAt and, when the
   * message is the newest one and its preview is not empty, the preview (as updateMessage does).
   * Messages that ended meanwhile, or are unknown, are left alone.
   */
  abstract checkpointReplies(batch: ReplyCheckpoint[]): Promise<void>;
  /** Replies still `pending` that were started before `startedBefore`, oldest first. */
  abstract pendingReplies(startedBefore: Date, limit: number): Promise<PendingReply[]>;
}
