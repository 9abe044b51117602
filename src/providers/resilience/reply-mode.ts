import type {
  ChatProvider,
  ProviderRequest,
  ProviderStreamEvent,
} from '../chat-provider.interface';

/**
 * How an attempt asks the adapter for its reply. Both modes look like a stream to the
 * resilience loop, so retries, rotation, breaker, fallbacks and abort are one code path; the
 * wire stays what each caller asked for (a streamed request, or one non-streamed request).
 */
export interface ReplyMode {
  /** Streamed: the connect, idle and time-to-first-token measures apply. */
  readonly streaming: boolean;
  call(
    provider: ChatProvider,
    request: ProviderRequest,
    apiKey: string | undefined,
  ): AsyncIterable<ProviderStreamEvent>;
}

/** The adapter's streamed call, as is. */
export const STREAMED_REPLY: ReplyMode = {
  streaming: true,
  call: (provider, request, apiKey) => provider.stream(request, apiKey),
};

/**
 * The adapter's non-streamed call (usage as the provider reports it), as one delta, its tool
 * calls, and done.
 */
export const WHOLE_REPLY: ReplyMode = {
  streaming: false,
  async *call(provider, request, apiKey) {
    const reply = await provider.complete(request, apiKey);
    yield { type: 'delta', text: reply.text };
    for (const call of reply.toolCalls ?? []) yield { type: 'tool_call', call };
    yield { type: 'done', usage: reply.usage, finishReason: reply.finishReason };
  },
};
