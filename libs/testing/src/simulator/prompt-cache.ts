import { createHash } from 'node:crypto';

/** A conversation as the simulator normalises it: system first, then the turns. */
export interface SimulatedMessage {
  role: string;
  content: string;
}

/** Prompt tokens a request read from, and wrote to, the simulated cache. */
export interface CacheUsage {
  readTokens: number;
  writeTokens: number;
}

/** How far before a breakpoint Anthropic looks for an earlier cache entry (content blocks). */
const LOOKBACK_BLOCKS = 20;

/**
 * The providers' prompt caches, simulated on whole-message prefixes. Anthropic caches only the
 * prefixes a request marks with `cache_control` (looking back up to 20 blocks from each mark for
 * an earlier entry); OpenAI and Gemini cache every prompt automatically and report the longest
 * earlier prefix. Prefixes shorter than `minTokens` are never cached, as on the real services.
 */
export class SimulatedPromptCache {
  private readonly entries = new Set<string>();

  constructor(
    private readonly minTokens: number,
    private readonly tokensOf: (messages: readonly SimulatedMessage[]) => number,
  ) {}

  clear(): void {
    this.entries.clear();
  }

  /**
   * Anthropic: `breakpoints` are prefix lengths (in messages) marked cacheable. The longest
   * cached prefix within the lookback of a mark is read; the prefix up to the last mark is
   * written (beyond what was read).
   */
  explicit(
    scope: string,
    messages: readonly SimulatedMessage[],
    breakpoints: number[],
  ): CacheUsage {
    const marks = [...new Set(breakpoints)].sort((a, b) => a - b);
    let read = 0;
    for (const mark of marks) {
      for (let length = mark; length > 0 && length >= mark - LOOKBACK_BLOCKS; length--) {
        if (this.entries.has(this.key(scope, messages, length))) {
          read = Math.max(read, this.cacheableTokens(messages, length));
          break;
        }
      }
    }
    const last = marks.at(-1);
    let write = 0;
    if (last !== undefined) {
      const tokens = this.cacheableTokens(messages, last);
      if (tokens > read) write = tokens - read;
    }
    for (const mark of marks) this.remember(scope, messages, mark);
    return { readTokens: read, writeTokens: write };
  }

  /** OpenAI and Gemini: the longest earlier-seen prefix is read; every prefix is remembered. */
  automatic(scope: string, messages: readonly SimulatedMessage[]): CacheUsage {
    let read = 0;
    for (let length = messages.length; length > 0; length--) {
      if (this.entries.has(this.key(scope, messages, length))) {
        read = this.cacheableTokens(messages, length);
        break;
      }
    }
    for (let length = 1; length <= messages.length; length++) {
      this.remember(scope, messages, length);
    }
    return { readTokens: read, writeTokens: 0 };
  }

  /** Tokens of the prefix, or 0 when it is below the cacheable minimum. */
  private cacheableTokens(messages: readonly SimulatedMessage[], length: number): number {
    const tokens = this.tokensOf(messages.slice(0, length));
    return tokens >= this.minTokens ? tokens : 0;
  }

  private remember(scope: string, messages: readonly SimulatedMessage[], length: number): void {
    if (this.cacheableTokens(messages, length) > 0) {
      this.entries.add(this.key(scope, messages, length));
    }
  }

  private key(scope: string, messages: readonly SimulatedMessage[], length: number): string {
    return createHash('sha256')
      .update(scope)
      .update(JSON.stringify(messages.slice(0, length)))
      .digest('hex');
  }
}
