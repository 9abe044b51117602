import type { ModelInfo } from './chat-provider.interface';

/**
 * Models the app knows, per provider, with their context windows (tokens). The first model of
 * each list is that provider's default. Adding a model is one line; the chat context builder
 * trims history to `contextWindow`.
 */
export interface CatalogModel {
  /** The provider's own model name (no `provider/` prefix). */
  model: string;
  contextWindow: number;
  /** The most tokens one reply may have, where a provider needs it (Anthropic's `max_tokens`). */
  maxOutputTokens?: number;
  /** The shortest prompt prefix the provider caches (Anthropic; shorter marks are ignored by it). */
  promptCacheMinTokens?: number;
  /** Inputs it takes besides text (chat `attachments`); none when absent. */
  inputs?: readonly BinaryInputKind[];
}

/** Attachments a model may take besides text: images, and PDF documents. */
export type BinaryInputKind = 'image' | 'pdf';

const VISION: readonly BinaryInputKind[] = ['image', 'pdf'];

/** Window assumed for a model the catalog does not list (configured OpenAI-compatible models, new OpenRouter models). */
export const DEFAULT_CONTEXT_WINDOW = 8192;

/** The built-in offline provider's only model. */
export const LOCAL_MODEL_ID = 'local/echo';

export const MODEL_CATALOG: Readonly<Record<string, readonly CatalogModel[]>> = {
  openrouter: [
    { model: 'openai/gpt-4o-mini', contextWindow: 128_000, inputs: VISION },
    { model: 'openai/gpt-4o', contextWindow: 128_000, inputs: VISION },
    { model: 'anthropic/claude-3.5-sonnet', contextWindow: 200_000, inputs: VISION },
    { model: 'google/gemini-2.0-flash-001', contextWindow: 1_048_576, inputs: VISION },
    { model: 'meta-llama/llama-3.1-8b-instruct', contextWindow: 131_072 },
    { model: 'meta-llama/llama-3.3-70b-instruct', contextWindow: 131_072 },
    { model: 'mistralai/mistral-7b-instruct', contextWindow: 32_768 },
  ],
  groq: [
    { model: 'llama-3.1-8b-instant', contextWindow: 131_072 },
    { model: 'llama-3.3-70b-versatile', contextWindow: 131_072 },
    { model: 'openai/gpt-oss-20b', contextWindow: 131_072 },
    { model: 'openai/gpt-oss-120b', contextWindow: 131_072 },
    { model: 'qwen/qwen3-32b', contextWindow: 131_072 },
  ],
  gemini: [
    { model: 'gemini-2.0-flash', contextWindow: 1_048_576, inputs: VISION },
    { model: 'gemini-2.0-flash-lite', contextWindow: 1_048_576, inputs: VISION },
    { model: 'gemini-2.5-flash', contextWindow: 1_048_576, inputs: VISION },
    { model: 'gemini-2.5-pro', contextWindow: 1_048_576, inputs: VISION },
  ],
  openai: [
    { model: 'gpt-4o-mini', contextWindow: 128_000, inputs: VISION },
    { model: 'gpt-4o', contextWindow: 128_000, inputs: VISION },
    { model: 'gpt-4.1-mini', contextWindow: 1_047_576, inputs: VISION },
    { model: 'gpt-4.1', contextWindow: 1_047_576, inputs: VISION },
  ],
  // https://platform.claude.com/docs/en/about-claude/models/overview; cache minimums from
  // https://platform.claude.com/docs/en/build-with-claude/prompt-caching
  anthropic: [
    {
      model: 'claude-sonnet-5-5',
      contextWindow: 1_000_000,
      maxOutputTokens: 128_000,
      promptCacheMinTokens: 1024,
      inputs: VISION,
    },
    {
      model: 'claude-haiku-5-5',
      contextWindow: 1_000_000,
      maxOutputTokens: 128_000,
      promptCacheMinTokens: 4096,
      inputs: VISION,
    },
    {
      model: 'claude-opus-5-5',
      contextWindow: 1_000_000,
      maxOutputTokens: 128_000,
      promptCacheMinTokens: 512,
      inputs: VISION,
    },
    {
      model: 'claude-sonnet-4-6',
      contextWindow: 200_000,
      maxOutputTokens: 64_000,
      promptCacheMinTokens: 1024,
      inputs: VISION,
    },
    {
      model: 'claude-haiku-4-5',
      contextWindow: 200_000,
      maxOutputTokens: 64_000,
      promptCacheMinTokens: 4096,
      inputs: VISION,
    },
  ],
  // Echoes the text; takes attachments so the app can be tried offline with them.
  local: [{ model: 'echo', contextWindow: 32_768, inputs: VISION }],
};

/** `entries` (by default the catalog's) as the models `provider` offers, ids `provider/model`. */
export function modelInfos(
  provider: string,
  entries: readonly CatalogModel[] = catalogModels(provider),
): ModelInfo[] {
  return entries.map((entry) => ({
    id: `${provider}/${entry.model}`,
    provider,
    contextWindow: entry.contextWindow,
  }));
}

/** The catalog entries of one provider (empty for providers whose models come from config). */
export function catalogModels(provider: string): readonly CatalogModel[] {
  return MODEL_CATALOG[provider] ?? [];
}

/** Context window of `provider/model`, or DEFAULT_CONTEXT_WINDOW when unknown. */
export function contextWindowFor(provider: string, model: string): number {
  return (
    catalogModels(provider).find((entry) => entry.model === model)?.contextWindow ??
    DEFAULT_CONTEXT_WINDOW
  );
}

/** What `provider/model` takes besides text; nothing for a model the catalog does not list. */
export function binaryInputsFor(provider: string, model: string): readonly BinaryInputKind[] {
  return catalogModels(provider).find((entry) => entry.model === model)?.inputs ?? [];
}
