import { InvalidInputError } from '@app/common';
import {
  type MessageFeedback,
  type MessageRole,
  type MessageStatus,
  NO_SETTINGS,
  type SessionSettings,
  type StoredToolCall,
} from './history-store.interface';

/** Most messages one imported conversation may have. */
export const MAX_IMPORT_MESSAGES = 10_000;
/** Longest imported message text, in UTF-16 code units. */
export const MAX_IMPORT_CONTENT = 200_000;
/** Longest imported title; longer ones are cut. */
const MAX_TITLE = 200;

/** One message of a conversation to import; `key` and `parentKey` are ids of the source file. */
export interface DraftMessage {
  key: string;
  parentKey: string | null;
  role: Exclude<MessageRole, 'system'>;
  content: string;
  status: MessageStatus;
  model: string | null;
  promptTokens: number | null;
  completionTokens: number | null;
  feedback: MessageFeedback | null;
  /** An assistant reply's tool calls (this service's exports carry them). */
  toolCalls: StoredToolCall[];
  createdAt: Date;
}

/**
 * A conversation read from an import file: messages in an order where every parent comes before
 * its children (siblings oldest first), and the key of the message to make the active leaf.
 */
export interface DraftConversation {
  title: string | null;
  createdAt: Date;
  updatedAt: Date;
  messages: DraftMessage[];
  activeKey: string | null;
  /** The conversation's own settings (an export of this service keeps them). */
  settings: SessionSettings;
}

type Json = Record<string, unknown>;
const isObject = (value: unknown): value is Json =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
const fail = (detail: string): never => {
  throw new InvalidInputError(detail);
};

/**
 * The conversations of an import body: this backend's JSON export (one object or a list) or a
 * ChatGPT data export's `conversations.json` (a list whose items have a `mapping`). Each item is
 * parsed on its own: the result is a draft or the reason that item cannot be imported.
 */
export function readConversations(data: unknown): (DraftConversation | InvalidInputError)[] {
  const items = Array.isArray(data) ? data : [data];
  return items.map((item) => {
    try {
      if (!isObject(item)) return fail('a conversation must be a JSON object');
      if (isObject(item.mapping)) return fromChatGpt(item);
      if (Array.isArray(item.messages)) return fromOwnExport(item);
      return fail(
        'neither an export of this service (messages) nor a ChatGPT conversation (mapping)',
      );
    } catch (error) {
      if (error instanceof InvalidInputError) return error;
      throw error;
    }
  });
}

/** This backend's export: messages with `parent_id` (older exports without it are one chain). */
function fromOwnExport(item: Json): DraftConversation {
  const raw = item.messages as unknown[];
  checkCount(raw.length);
  const chained = !raw.some((m) => isObject(m) && 'parent_id' in m);
  const keys = new Set<string>();
  const messages = raw.map((m, index): DraftMessage => {
    if (!isObject(m)) return fail(`message ${index + 1} must be an object`);
    const key = stringOr(m.id, `message ${index + 1}: id`);
    if (keys.has(key)) fail(`message ${index + 1}: id ${key} appears twice`);
    keys.add(key);
    const role = m.role;
    if (role !== 'user' && role !== 'assistant') {
      return fail(`message ${index + 1}: role must be user or assistant`);
    }
    const status = m.status ?? 'complete';
    if (!['complete', 'error', 'aborted', 'pending'].includes(status as string)) {
      fail(`message ${index + 1}: unknown status`);
    }
    const usage = isObject(m.usage) ? m.usage : null;
    const parent = chained ? (index ? (raw[index - 1] as Json).id : null) : m.parent_id;
    return {
      key,
      parentKey:
        parent === null || parent === undefined
          ? null
          : stringOr(parent, `message ${index + 1}: parent_id`),
      role,
      content: content(m.content, index),
      // A reply still generating when it was exported never finished.
      status: status === 'pending' ? 'aborted' : (status as MessageStatus),
      model: typeof m.model === 'string' ? m.model.slice(0, 200) : null,
      promptTokens: count(usage?.prompt_tokens),
      completionTokens: count(usage?.completion_tokens),
      feedback: feedbackOf(m.feedback),
      toolCalls: role === 'assistant' ? toolCallsOf(m.tool_calls, index) : [],
      createdAt: date(m.created_at) ?? new Date(),
    };
  });
  for (const [index, message] of messages.entries()) {
    if (message.parentKey !== null && !keys.has(message.parentKey)) {
      fail(
        `message ${index + 1}: parent_id ${message.parentKey} is not a message of this conversation`,
      );
    }
  }
  const active = typeof item.active_message_id === 'string' ? item.active_message_id : null;
  return ordered({
    title: titleOf(item.title),
    createdAt: date(item.created_at) ?? messages[0]?.createdAt ?? new Date(),
    updatedAt: date(item.updated_at) ?? messages.at(-1)?.createdAt ?? new Date(),
    messages,
    activeKey: active && keys.has(active) ? active : null,
    settings: settingsOf(item.settings),
  });
}

/**
 * A ChatGPT conversation: `mapping` is its tree (node id → {message, parent, children}),
 * `current_node` the leaf shown. System, tool and empty messages are left out; their children
 * move up to the nearest message kept.
 */
function fromChatGpt(item: Json): DraftConversation {
  const mapping = item.mapping as Json;
  const nodes = Object.entries(mapping);
  checkCount(nodes.length);
  const kept = new Map<string, DraftMessage>();
  for (const [key, node] of nodes) {
    if (!isObject(node) || !isObject(node.message)) continue;
    const message = node.message;
    const role = isObject(message.author) ? message.author.role : undefined;
    if (role !== 'user' && role !== 'assistant') continue;
    const body = isObject(message.content) ? message.content : {};
    const parts = Array.isArray(body.parts) ? body.parts : [];
    const text = parts.filter((p): p is string => typeof p === 'string').join('\n');
    if (!text.trim()) continue;
    const metadata = isObject(message.metadata) ? message.metadata : {};
    kept.set(key, {
      key,
      parentKey: null,
      role,
      content: content(text, kept.size),
      status: 'complete',
      model: typeof metadata.model_slug === 'string' ? metadata.model_slug.slice(0, 200) : null,
      promptTokens: null,
      completionTokens: null,
      feedback: null,
      toolCalls: [],
      createdAt: seconds(message.create_time) ?? seconds(item.create_time) ?? new Date(),
    });
  }
  /** The nearest kept ancestor of a node (cycles in a corrupt file end the walk). */
  const keptAncestor = (key: unknown): string | null => {
    const seen = new Set<string>();
    for (let current = key; typeof current === 'string' && !seen.has(current);) {
      if (kept.has(current)) return current;
      seen.add(current);
      const node = mapping[current];
      current = isObject(node) ? node.parent : undefined;
    }
    return null;
  };
  for (const message of kept.values()) {
    message.parentKey = keptAncestor((mapping[message.key] as Json).parent);
  }
  return ordered({
    title: titleOf(item.title),
    createdAt: seconds(item.create_time) ?? new Date(),
    updatedAt: seconds(item.update_time) ?? seconds(item.create_time) ?? new Date(),
    messages: [...kept.values()],
    activeKey: keptAncestor(item.current_node),
    settings: { ...NO_SETTINGS },
  });
}

/** Parents before children, siblings oldest first (depth first from the roots). */
function ordered(draft: DraftConversation): DraftConversation {
  const children = new Map<string | null, DraftMessage[]>();
  for (const message of draft.messages) {
    const list = children.get(message.parentKey) ?? [];
    list.push(message);
    children.set(message.parentKey, list);
  }
  for (const list of children.values()) {
    list.sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime());
  }
  const result: DraftMessage[] = [];
  const stack = [...(children.get(null) ?? [])].reverse();
  while (stack.length) {
    const message = stack.pop()!;
    result.push(message);
    stack.push(...[...(children.get(message.key) ?? [])].reverse());
  }
  // Messages not reached from a root sit on a parent cycle: the file is not a tree.
  if (result.length !== draft.messages.length) {
    fail('the messages do not form a tree (a parent cycle)');
  }
  return { ...draft, messages: result };
}

/**
 * An export's settings, each kept when it is within a chat request's rules and dropped (null)
 * otherwise; a model no longer configured falls back to the default when a turn runs.
 */
function settingsOf(value: unknown): SessionSettings {
  if (!isObject(value)) return { ...NO_SETTINGS };
  const { system_prompt: prompt, model, temperature, max_tokens: maxTokens } = value;
  const inRange = (n: unknown, min: number, max: number) =>
    typeof n === 'number' && Number.isFinite(n) && n >= min && n <= max;
  return {
    systemPrompt: typeof prompt === 'string' && [...prompt].length <= 8000 ? prompt : null,
    model: typeof model === 'string' && model && model.length <= 200 ? model : null,
    temperature: inRange(temperature, 0, 2) ? (temperature as number) : null,
    maxTokens:
      Number.isInteger(maxTokens) && inRange(maxTokens, 1, 32768) ? (maxTokens as number) : null,
  };
}

function checkCount(count: number): void {
  if (count > MAX_IMPORT_MESSAGES) {
    fail(`a conversation may have at most ${MAX_IMPORT_MESSAGES} messages`);
  }
}

function content(value: unknown, index: number): string {
  if (typeof value !== 'string') return fail(`message ${index + 1}: content must be a string`);
  if (value.length > MAX_IMPORT_CONTENT) {
    return fail(`message ${index + 1}: content is longer than ${MAX_IMPORT_CONTENT} characters`);
  }
  // PostgreSQL text cannot hold NUL characters; no conversation needs them.
  // eslint-disable-next-line no-control-regex
  return value.replace(/\u0000/g, '');
}

function stringOr(value: unknown, what: string): string {
  if (typeof value !== 'string' || !value || value.length > 100) {
    return fail(`${what} must be a string of 1 to 100 characters`);
  }
  return value;
}

function titleOf(value: unknown): string | null {
  if (typeof value !== 'string') return null;
  // eslint-disable-next-line no-control-regex
  const title = value.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim();
  return title ? [...title].slice(0, MAX_TITLE).join('') : null;
}

function count(value: unknown): number | null {
  return Number.isSafeInteger(value) && (value as number) >= 0 ? (value as number) : null;
}

function feedbackOf(value: unknown): MessageFeedback | null {
  if (!isObject(value) || (value.rating !== 'up' && value.rating !== 'down')) return null;
  const comment = typeof value.comment === 'string' ? value.comment.slice(0, 2000) : null;
  return { rating: value.rating, comment: comment || null };
}

/**
 * An exported reply's `tool_calls`. The export does not say which model call made each one, so
 * they are imported as one round: the context then replays them all before the reply's text.
 */
function toolCallsOf(value: unknown, index: number): StoredToolCall[] {
  if (value === undefined || value === null) return [];
  const where = `message ${index + 1}: tool_calls`;
  if (!Array.isArray(value) || value.length > 100) return fail(`${where} must be a list`);
  return value.map((call: unknown): StoredToolCall => {
    if (!isObject(call)) return fail(`${where} must be objects`);
    const args = call.arguments;
    if (typeof args !== 'string' || args.length > MAX_IMPORT_CONTENT) {
      return fail(`${where}: arguments must be a string`);
    }
    const result = call.result;
    if (
      result !== null &&
      result !== undefined &&
      (!isObject(result) ||
        typeof result.content !== 'string' ||
        result.content.length > MAX_IMPORT_CONTENT)
    ) {
      return fail(`${where}: result must be null or {content, is_error}`);
    }
    return {
      id: stringOr(call.id, `${where}: id`),
      name: stringOr(call.name, `${where}: name`),
      arguments: args,
      executedBy: call.executed_by === 'server' ? 'server' : 'client',
      round: 0,
      result: isObject(result)
        ? { content: result.content as string, isError: result.is_error === true }
        : null,
    };
  });
}

function date(value: unknown): Date | null {
  if (typeof value !== 'string') return null;
  const parsed = new Date(value);
  return Number.isNaN(parsed.getTime()) ? null : parsed;
}

/** ChatGPT's timestamps: seconds since the epoch, with a fraction. */
function seconds(value: unknown): Date | null {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) return null;
  const parsed = new Date(Math.round(value * 1000));
  return Number.isNaN(parsed.getTime()) ? null : parsed;
}
