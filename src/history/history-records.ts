import {
  type MessagePatch,
  type MessageRecord,
  type NewMessage,
  NO_SETTINGS,
  type SessionRecord,
  type SessionSettings,
} from './history-store.interface';
import { newHistoryId } from './session-id';

/** A new, empty session as both stores write it: fresh id, no messages, no preview yet. */
export function newSessionRecord(
  userId: string,
  title: string | null,
  now: Date,
  settings: SessionSettings = NO_SETTINGS,
): SessionRecord {
  return {
    id: newHistoryId(),
    userId,
    title,
    messageCount: 0,
    lastMessage: null,
    activeLeafId: null,
    settings: { ...settings },
    createdAt: now,
    updatedAt: now,
  };
}

/**
 * A new message at position `seq` under `parentId`, with the optional fields of NewMessage stored
 * as null.
 */
export function newMessageRecord(
  sessionId: string,
  seq: number,
  parentId: string | null,
  message: NewMessage,
  now: Date,
): MessageRecord {
  return {
    id: newHistoryId(),
    sessionId,
    seq,
    parentId,
    role: message.role,
    content: message.content,
    status: message.status,
    model: message.model ?? null,
    promptTokens: message.promptTokens ?? null,
    completionTokens: message.completionTokens ?? null,
    error: message.error ?? null,
    feedback: null,
    attachments: message.attachments ? [...message.attachments] : [],
    toolCalls: [],
    createdAt: now,
  };
}

/** The fields a patch really sets: an `undefined` field means "leave as is", never "clear". */
export function definedFields(patch: MessagePatch): MessagePatch {
  return Object.fromEntries(Object.entries(patch).filter(([, value]) => value !== undefined));
}
