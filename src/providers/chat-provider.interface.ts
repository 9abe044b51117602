/** Normalised chat types shared by every provider adapter, the resilience layer and ChatService. */

export type ChatRole = 'system' | 'user' | 'assistant';

/** An image or PDF attached to a user message, as every adapter receives it. */
export interface BinaryInput {
  kind: 'image' | 'pdf';
  /** `image/png`, `image/jpeg`, `image/webp`, `image/gif` or `application/pdf`. */
  mediaType: string;
  /** The uploaded file name (APIs that label documents get it). */
  name: string;
  /** The file's bytes, base64-encoded. */
  data: string;
}

export interface ProviderMessage {
  role: ChatRole;
  /** The text; attached text files are already inlined here with their names. */
  content: string;
  /**
   * Images and PDFs of a user message, after its text, in the order attached. Each adapter turns
   * them into its API's parts in one function (`toOpenAiContent`, `toGeminiParts`, …).
   */
  inputs?: BinaryInput[];
}

export interface TokenUsage {
  /** Every prompt token, cached ones included. */
  promptTokens: number;
  completionTokens: number;
  totalTokens: number;
  /** Part of promptTokens served from the provider's prompt cache, when it says so. */
  cacheReadTokens?: number;
  /** Part of promptTokens written to the provider's prompt cache (Anthropic), when it says so. */
  cacheWriteTokens?: number;
  /** The provider's own charge for the call in USD (OpenRouter's `usage.cost`), when it says. */
  costUsd?: number;
}

/** Why generation ended, normalised across providers. */
export type FinishReason = 'stop' | 'length' | 'content_filter' | 'aborted' | 'error';

/** One call to one adapter: the model is the provider's own name (no `provider/` prefix). */
export interface ProviderRequest {
  model: string;
  messages: ProviderMessage[];
  temperature?: number;
  maxTokens?: number;
  signal?: AbortSignal;
  /**
   * Called once the upstream accepted the request (response headers received), before any
   * event. The resilience layer uses it to stop the connect timer; adapters must call it.
   */
  onResponse?: () => void;
}

export interface ProviderCompletion {
  text: string;
  /** The model that actually answered, as `provider/model`. */
  model: string;
  usage: TokenUsage;
  finishReason: FinishReason;
}

/** What a streamed generation yields: text deltas, then exactly one `done`. */
export type ProviderStreamEvent =
  { type: 'delta'; text: string } | { type: 'done'; usage: TokenUsage; finishReason: FinishReason };

/** A model the registry can route to. */
export interface ModelInfo {
  /** `provider/model`, e.g. `groq/llama-3.1-8b-instant`. */
  id: string;
  provider: string;
  /** Context window in tokens, when known. */
  contextWindow?: number;
}

/**
 * An adapter for one provider family. Adding a provider is one class implementing this plus
 * one registration. `apiKey` comes from the key pool; adapters never pick keys themselves.
 */
export interface ChatProvider {
  /** Prefix of model ids, e.g. `openrouter`. */
  readonly name: string;
  /** Models this provider offers in the current configuration. */
  listModels(): ModelInfo[];
  /** True when this provider accepts `model` (already stripped of the prefix). */
  supportsModel(model: string): boolean;
  complete(request: ProviderRequest, apiKey: string | undefined): Promise<ProviderCompletion>;
  stream(request: ProviderRequest, apiKey: string | undefined): AsyncIterable<ProviderStreamEvent>;
}
