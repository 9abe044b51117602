import { InvalidInputError } from '@app/common';
import type { ProviderMessage } from '../providers/chat-provider.interface';
import type { MessageRecord, StoredToolCall } from '../history/history-store.interface';

/** Counts the prompt tokens of a list of messages, including per-message overhead. */
export type MessagesTokenCounter = (messages: ProviderMessage[]) => number;

export interface ContextInput {
  systemPrompt?: string;
  /** The session's earlier messages, oldest first (any status). */
  history: MessageRecord[];
  /**
   * The new user message: its text, or the prompt message with its attachments. Absent on a
   * continuation: the last message of `history` is the reply whose tool calls were just answered,
   * and the prompt ends with it and its results.
   */
  userMessage?: string | ProviderMessage;
  /** How a stored message enters the prompt (attachments resolved); its text alone by default. */
  promptOf?: (message: MessageRecord) => ProviderMessage;
  /** The model's context window in tokens; undefined = unknown (nothing is trimmed for size). */
  contextWindow?: number;
  /** Tokens reserved for the reply (`max_tokens` or CHAT__REPLY_TOKEN_BUDGET). */
  replyBudget: number;
}

export interface BuiltContext {
  messages: ProviderMessage[];
  /** Prompt tokens of `messages` as counted locally. */
  promptTokens: number;
  /** How many earlier messages were dropped to fit the window. */
  trimmed: number;
}

/**
 * Builds the prompt of one turn: optional system prompt, the session's earlier complete
 * exchanges, then the new user message (or, on a continuation, the reply whose tool calls were
 * answered) — trimmed from the oldest so that prompt + reply budget fit the model's context window.
 * A reply with tool calls enters as a unit (its calls and their results, see expandToolReply), so
 * trimming never separates a call from its result.
 *
 * Token counting uses the providers' local counter (src/providers/token-counter.ts), an estimate
 * that is deliberately on the high side, so a context that fits here fits at the provider too.
 * Per-message costs are computed once and summed (the counter is additive: per-message overhead +
 * text, plus a fixed priming once per conversation), then the result is checked once more as a
 * whole.
 */
export function buildContext(input: ContextInput, count: MessagesTokenCounter): BuiltContext {
  const system: ProviderMessage[] = input.systemPrompt
    ? [{ role: 'system', content: input.systemPrompt }]
    : [];
  let groups = historyGroups(input.history, input.promptOf);
  const tail = newMessages(input, groups);
  const originalLength = groups.flat().length;
  const assemble = () => [...system, ...groups.flat(), ...tail];

  if (input.contextWindow === undefined) {
    const messages = assemble();
    return { messages, promptTokens: count(messages), trimmed: 0 };
  }

  const budget = input.contextWindow - input.replyBudget;
  if (budget <= 0) {
    throw new InvalidInputError(
      `max_tokens (${input.replyBudget}) leaves no room for the prompt in the model's context window (${input.contextWindow} tokens)`,
    );
  }
  const required = count([...system, ...tail]);
  if (required > budget) {
    throw new InvalidInputError(
      `The message (with the system prompt) is too long for the model's context window: about ${required} tokens, ` +
        `${budget} available after reserving ${input.replyBudget} for the reply`,
    );
  }

  // Marginal cost of one more group (a whole count includes fixed reply-priming tokens once).
  const empty: ProviderMessage = { role: 'user', content: '' };
  const base = count([empty]);
  const costs = groups.map((group) => count([empty, ...group]) - base);
  let total = required;
  let keepFrom = groups.length;
  for (let i = groups.length - 1; i >= 0; i--) {
    if (total + costs[i] > budget) break;
    total += costs[i];
    keepFrom = i;
  }
  groups = startWithUser(groups.slice(keepFrom));
  let messages = assemble();
  let promptTokens = count(messages);
  // The summed estimate can differ from a whole count by the counter's fixed overheads.
  while (promptTokens > budget && groups.length > 0) {
    groups = startWithUser(groups.slice(1));
    messages = assemble();
    promptTokens = count(messages);
  }
  return { messages, promptTokens, trimmed: originalLength - groups.flat().length };
}

/** What the prompt must end with: the new user message, or (taken off `groups`) the continued reply. */
function newMessages(input: ContextInput, groups: ProviderMessage[][]): ProviderMessage[] {
  if (input.userMessage === undefined) {
    const continued = input.history.at(-1);
    groups.pop();
    return continued ? expandToolReply(continued, true) : [];
  }
  return [
    typeof input.userMessage === 'string'
      ? { role: 'user', content: input.userMessage }
      : input.userMessage,
  ];
}

/**
 * Keeps only complete messages: an assistant reply that failed, was aborted or is still pending is
 * dropped together with the user message it answered, so the context alternates cleanly.
 */
export function completeExchanges(
  history: MessageRecord[],
  promptOf: (message: MessageRecord) => ProviderMessage = textOnly,
): ProviderMessage[] {
  return historyGroups(history, promptOf).flat();
}

/** completeExchanges, each stored message as the provider messages it becomes (kept together). */
function historyGroups(
  history: MessageRecord[],
  promptOf: (message: MessageRecord) => ProviderMessage = textOnly,
): ProviderMessage[][] {
  const kept: ProviderMessage[][] = [];
  for (let i = 0; i < history.length; i++) {
    const message = history[i];
    const next = history[i + 1];
    if (message.status !== 'complete') continue;
    if (message.role === 'user' && next?.role === 'assistant' && next.status !== 'complete') {
      i++;
      continue;
    }
    const group = message.toolCalls.length ? expandToolReply(message) : [promptOf(message)];
    if (group.length) kept.push(group);
  }
  return kept;
}

/**
 * A reply with tool calls as provider messages: per model round, an assistant message with the
 * round's answered calls followed by one `tool` message per result; then the reply's text as a
 * plain assistant message. Calls without a result are left out. On the reply being continued
 * (`textFirst`) the text came before its calls, so it is the first round's content instead (a
 * prompt must not end with an assistant message).
 */
export function expandToolReply(message: MessageRecord, textFirst = false): ProviderMessage[] {
  const rounds = new Map<number, StoredToolCall[]>();
  for (const call of message.toolCalls) {
    if (!call.result) continue;
    rounds.set(call.round, [...(rounds.get(call.round) ?? []), call]);
  }
  const expanded = [...rounds.keys()]
    .sort((a, b) => a - b)
    .flatMap((round) => toolRoundMessages('', rounds.get(round)!));
  if (!message.content) return expanded;
  if (textFirst && expanded.length) {
    expanded[0] = { ...expanded[0], content: message.content };
    return expanded;
  }
  return [...expanded, { role: 'assistant', content: message.content }];
}

/** One round of tool calls as a model sees it: the assistant's calls, then each call's result. */
export function toolRoundMessages(text: string, calls: StoredToolCall[]): ProviderMessage[] {
  return [
    {
      role: 'assistant',
      content: text,
      toolCalls: calls.map(({ id, name, arguments: args }) => ({ id, name, arguments: args })),
    },
    ...calls.map((call): ProviderMessage => ({
      role: 'tool',
      content: call.result?.content ?? '',
      toolCallId: call.id,
      toolName: call.name,
      ...(call.result?.isError ? { toolError: true } : {}),
    })),
  ];
}

function textOnly(message: MessageRecord): ProviderMessage {
  return { role: message.role, content: message.content };
}

/** Providers such as Gemini need the conversation to open with a user turn. */
function startWithUser(groups: ProviderMessage[][]): ProviderMessage[][] {
  let start = 0;
  while (start < groups.length && groups[start][0].role !== 'user') start++;
  return start === 0 ? groups : groups.slice(start);
}
