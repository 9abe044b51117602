import { InvalidInputError } from '@app/common';
import type { ProviderMessage } from '../providers/chat-provider.interface';
import type { MessageRecord } from '../history/history-store.interface';

/** Counts the prompt tokens of a list of messages, including per-message overhead. */
export type MessagesTokenCounter = (messages: ProviderMessage[]) => number;

export interface ContextInput {
  systemPrompt?: string;
  /** The session's earlier messages, oldest first (any status). */
  history: MessageRecord[];
  /** The new user message: its text, or the prompt message with its attachments. */
  userMessage: string | ProviderMessage;
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
 * exchanges, then the new user message — trimmed from the oldest so that prompt + reply budget
 * fit the model's context window.
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
  const user: ProviderMessage =
    typeof input.userMessage === 'string'
      ? { role: 'user', content: input.userMessage }
      : input.userMessage;
  let history = completeExchanges(input.history, input.promptOf);

  if (input.contextWindow === undefined) {
    const messages = [...system, ...history, user];
    return { messages, promptTokens: count(messages), trimmed: 0 };
  }

  const budget = input.contextWindow - input.replyBudget;
  if (budget <= 0) {
    throw new InvalidInputError(
      `max_tokens (${input.replyBudget}) leaves no room for the prompt in the model's context window (${input.contextWindow} tokens)`,
    );
  }
  const required = count([...system, user]);
  if (required > budget) {
    throw new InvalidInputError(
      `The message (with the system prompt) is too long for the model's context window: about ${required} tokens, ` +
        `${budget} available after reserving ${input.replyBudget} for the reply`,
    );
  }

  // Marginal cost of one more message (a whole count includes fixed reply-priming tokens once).
  const empty: ProviderMessage = { role: 'user', content: '' };
  const base = count([empty]);
  const costs = history.map((message) => count([empty, message]) - base);
  let total = required;
  let keepFrom = history.length;
  for (let i = history.length - 1; i >= 0; i--) {
    if (total + costs[i] > budget) break;
    total += costs[i];
    keepFrom = i;
  }
  const originalLength = history.length;
  history = startWithUser(history.slice(keepFrom));
  let messages = [...system, ...history, user];
  let promptTokens = count(messages);
  // The summed estimate can differ from a whole count by the counter's fixed overheads.
  while (promptTokens > budget && history.length > 0) {
    history = startWithUser(history.slice(1));
    messages = [...system, ...history, user];
    promptTokens = count(messages);
  }
  return { messages, promptTokens, trimmed: originalLength - history.length };
}

/**
 * Keeps only complete messages: an assistant reply that failed, was aborted or is still pending is
 * dropped together with the user message it answered, so the context alternates cleanly.
 */
export function completeExchanges(
  history: MessageRecord[],
  promptOf: (message: MessageRecord) => ProviderMessage = textOnly,
): ProviderMessage[] {
  const kept: ProviderMessage[] = [];
  for (let i = 0; i < history.length; i++) {
    const message = history[i];
    const next = history[i + 1];
    if (message.status !== 'complete') continue;
    if (message.role === 'user' && next?.role === 'assistant' && next.status !== 'complete') {
      i++;
      continue;
    }
    kept.push(promptOf(message));
  }
  return kept;
}

function textOnly(message: MessageRecord): ProviderMessage {
  return { role: message.role, content: message.content };
}

/** Providers such as Gemini need the conversation to open with a user turn. */
function startWithUser(history: ProviderMessage[]): ProviderMessage[] {
  let start = 0;
  while (start < history.length && history[start].role === 'assistant') start++;
  return start === 0 ? history : history.slice(start);
}
