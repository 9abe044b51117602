/** Normalised chat types shared by every provider adapter, the resilience layer and ChatService. */

export type ChatRole = 'system' | 'user' | 'assistant' | 'tool';

/** A function the model may call: a name, what it does, and its arguments as JSON Schema. */
export interface ToolDefinition {
  /** `^[a-zA-Z0-9_-]{1,64}$`, the subset every provider accepts. */
  name: string;
  description?: string;
  /** A JSON Schema object (`{"type": "object", "properties": …}`); an empty object when absent. */
  parameters: Record<string, unknown>;
}

export type ToolChoice = 'auto' | 'none' | 'required' | { name: string };

/** One call the model made. Providers without call ids (Gemini) get one made up by the adapter. */
export interface ToolCall {
  id: string;
  name: string;
  /** The arguments as the model wrote them: JSON text, not parsed (models can write bad JSON). */
  arguments: string;
}

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
  /** On an `assistant` message: the calls the model made in that round. */
  toolCalls?: ToolCall[];
  /** On a `tool` message (its content is the result): the call it answers, and that call's name. */
  toolCallId?: string;
  toolName?: string;
  /** On a `tool` message: the tool failed and the content says why (Anthropic's `is_error`). */
  toolError?: boolean;
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
export type FinishReason =
  'stop' | 'length' | 'content_filter' | 'tool_calls' | 'aborted' | 'error';

/** One call to one adapter: the model is the provider's own name (no `provider/` prefix). */
export interface ProviderRequest {
  model: string;
  messages: ProviderMessage[];
  temperature?: number;
  maxTokens?: number;
  /** Functions the model may call; absent or empty = none offered. */
  tools?: ToolDefinition[];
  /** Whether the model must, may or must not call one (`auto` when absent), or which one. */
  toolChoice?: ToolChoice;
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
  /** The calls the model made (finishReason `tool_calls`), in order. */
  toolCalls?: ToolCall[];
}

/**
 * What a streamed generation yields: text deltas and whole tool calls (each once its arguments
 * are complete, assembled by the adapter from the provider's fragments), then exactly one `done`.
 */
export type ProviderStreamEvent =
  | { type: 'delta'; text: string }
  | { type: 'tool_call'; call: ToolCall }
  | { type: 'done'; usage: TokenUsage; finishReason: FinishReason };

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
  /** False when the provider never calls tools (a request's tools are ignored); true if absent. */
  readonly callsTools?: boolean;
  /** Models this provider offers in the current configuration. */
  listModels(): ModelInfo[];
  /** True when this provider accepts `model` (already stripped of the prefix). */
  supportsModel(model: string): boolean;
  complete(request: ProviderRequest, apiKey: string | undefined): Promise<ProviderCompletion>;
  stream(request: ProviderRequest, apiKey: string | undefined): AsyncIterable<ProviderStreamEvent>;
}
