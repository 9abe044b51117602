import type {
  FinishReason,
  ProviderMessage,
  TokenUsage,
  ToolCall,
  ToolChoice,
  ToolDefinition,
} from './chat-provider.interface';
import type { BinaryInputKind } from './model-catalog';

/** One generation as ChatService asks for it; everything optional falls back to config. */
export interface GenerationRequest {
  /** `provider/model`; the configured default when absent. */
  model?: string;
  /** Tried in order (before config.ai.fallbackModels) when the primary fails before any token. */
  fallbackModels?: string[];
  messages: ProviderMessage[];
  temperature?: number;
  maxTokens?: number;
  /** Functions the model may call (the client's and the deployment's server-side tools). */
  tools?: ToolDefinition[];
  toolChoice?: ToolChoice;
  /** Aborting it closes the upstream connection and ends with GenerationAbortedError. */
  signal?: AbortSignal;
  /** For logs, metrics and the usage ledger only (like the ids below); never sent upstream. */
  userId?: string;
  /** The personal API key the request came through, when it did. */
  apiKeyId?: string;
  sessionId?: string;
  /** The assistant message the reply is stored in. */
  messageId?: string;
}

export interface GenerationResult {
  text: string;
  /** `provider/model` that answered (after fallbacks). */
  model: string;
  usage: TokenUsage;
  finishReason: FinishReason;
  /** The calls the model made (finishReason `tool_calls`), in order. */
  toolCalls?: ToolCall[];
}

/**
 * A streamed generation: one `start`, any number of `delta`, one `done`; or it throws
 * (ProviderError 502, ProviderUnavailableError 503, ProviderTimeoutError 504,
 * GenerationAbortedError, InvalidInputError for an unknown model).
 *
 * `start` is yielded when the generation is committed to one model: the upstream accepted
 * the request and sent its first token (or finished without text), so no fallback can happen
 * any more and `model` names the model that is really answering.
 */
export type GenerationEvent =
  | { type: 'start'; model: string }
  | { type: 'delta'; text: string }
  | { type: 'tool_call'; call: ToolCall }
  | { type: 'done'; model: string; usage: TokenUsage; finishReason: FinishReason };

/** A model as the API lists it. */
export interface ListedModel {
  id: string;
  provider: string;
  contextWindow?: number;
  /** Attachments it takes besides text (the catalog's `inputs`). */
  inputs: readonly BinaryInputKind[];
  /** It can call the request's tools (false: it answers in text, the tools are ignored). */
  tools: boolean;
  default: boolean;
}

/** A model id resolved to its provider. */
export interface ResolvedModel {
  /** `provider/model`. */
  id: string;
  provider: string;
  /** The provider's own name for the model. */
  model: string;
  contextWindow: number;
  /** Attachments it takes besides text (the catalog's `inputs`). */
  inputs: readonly BinaryInputKind[];
}
