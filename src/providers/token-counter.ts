import type { ProviderMessage, TokenUsage } from './chat-provider.interface';

/**
 * A cheap, dependency-free token estimate, used to trim context to a model's window, to
 * count usage of the local provider and when a provider reports no usage.
 *
 * Heuristic: about 4 characters per token for alphabetic scripts (OpenAI's rule of thumb for
 * English), 1 token per character for CJK ideographs, kana and hangul (which BPE tokenizers
 * split about that finely), rounded up. Each chat message adds 4 tokens of framing (role,
 * separators) and a conversation 3 more for the reply priming, as in OpenAI's cookbook count.
 * It errs on the high side for typical text, which is the safe direction for trimming.
 */
export const CHARS_PER_TOKEN = 4;
export const MESSAGE_OVERHEAD_TOKENS = 4;
export const REPLY_PRIMING_TOKENS = 3;
/**
 * Tokens assumed for an attached image or PDF. Providers charge by resolution or page count,
 * which is not known here; these are on the high side for a typical photo (OpenAI: ≤ 1105 at
 * high detail) and a short document.
 */
export const BINARY_INPUT_TOKENS = { image: 1_500, pdf: 6_000 } as const;

const WIDE_CHAR = /[\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef]/gu;

/** Estimated tokens in one piece of text. */
export function countTokens(text: string): number {
  if (!text) return 0;
  const wide = text.match(WIDE_CHAR)?.length ?? 0;
  const narrow = text.length - wide;
  return wide + Math.ceil(narrow / CHARS_PER_TOKEN);
}

/** Estimated prompt tokens of a whole conversation, framing included. */
export function countMessagesTokens(messages: readonly ProviderMessage[]): number {
  if (messages.length === 0) return 0;
  let total = REPLY_PRIMING_TOKENS;
  for (const message of messages) {
    total += MESSAGE_OVERHEAD_TOKENS + countTokens(message.content);
    for (const input of message.inputs ?? []) total += BINARY_INPUT_TOKENS[input.kind];
    for (const call of message.toolCalls ?? []) total += countTokens(call.name + call.arguments);
  }
  return total;
}

/** Estimated usage of a reply: the local provider's count, and when a provider reports none. */
export function estimateUsage(messages: readonly ProviderMessage[], text: string): TokenUsage {
  const promptTokens = countMessagesTokens(messages);
  const completionTokens = countTokens(text);
  return { promptTokens, completionTokens, totalTokens: promptTokens + completionTokens };
}

/** `usage` with the provider's cache reads and writes, when it reported any (0 is left out). */
export function withCacheUsage(
  usage: TokenUsage,
  cacheReadTokens: number | null | undefined,
  cacheWriteTokens?: number | null,
): TokenUsage {
  const result = { ...usage };
  if (cacheReadTokens) result.cacheReadTokens = cacheReadTokens;
  if (cacheWriteTokens) result.cacheWriteTokens = cacheWriteTokens;
  return result;
}
