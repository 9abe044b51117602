import { readFileSync } from 'node:fs';
import BUILT_IN_PRICES from './model-prices.json';
import { ConfigError } from './env-reader';

/** What one model costs, in USD per 1 million tokens (the same number is micro-dollars per token). */
export interface ModelPrice {
  input: number;
  output: number;
  /** Prompt tokens served from the provider's cache; the input price when the catalog omits it. */
  cachedInput: number;
  /** Prompt tokens written to the provider's cache (Anthropic); the input price when omitted. */
  cacheWrite: number;
}

/** Prices by model id (`provider/model`). */
export type ModelPriceTable = Readonly<Record<string, ModelPrice>>;

const PRICE_FIELDS = ['input', 'output', 'cached_input', 'cache_write'];

/**
 * The built-in catalog (config/model-prices.json), with the entries of `overrideFile`
 * (MODEL_PRICES_FILE, same format) replacing or adding models. Throws ConfigError naming the
 * file and the entry when the file cannot be read or an entry is malformed.
 */
export function loadModelPrices(overrideFile: string | undefined): ModelPriceTable {
  const prices = parsePriceCatalog(BUILT_IN_PRICES, 'config/model-prices.json');
  if (!overrideFile) return prices;
  let text: string;
  try {
    text = readFileSync(overrideFile, 'utf8');
  } catch (error) {
    throw new ConfigError(
      `MODEL_PRICES_FILE ${overrideFile} cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})`,
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new ConfigError(
      `MODEL_PRICES_FILE ${overrideFile} is not valid JSON: ${(error as Error).message}`,
    );
  }
  return { ...prices, ...parsePriceCatalog(json, `MODEL_PRICES_FILE ${overrideFile}`) };
}

/**
 * `{"models": {"provider/model": {"input": n, "output": n, "cached_input"?: n,
 * "cache_write"?: n}}}` → a table.
 */
export function parsePriceCatalog(json: unknown, source: string): ModelPriceTable {
  const models = (json as { models?: unknown } | null)?.models;
  if (!isObject(json) || !isObject(models)) {
    throw new ConfigError(`${source} must be an object with a "models" object`);
  }
  const table: Record<string, ModelPrice> = {};
  for (const [id, entry] of Object.entries(models)) {
    const fail = (reason: string) => {
      throw new ConfigError(`${source}: model "${id}" ${reason}`);
    };
    if (!/^[^/\s]+\/\S+$/.test(id)) fail('must be named provider/model');
    if (!isObject(entry)) fail('must be an object {input, output, cached_input?, cache_write?}');
    const prices = entry as Record<string, unknown>;
    const unknown = Object.keys(prices).filter((key) => !PRICE_FIELDS.includes(key));
    if (unknown.length) fail(`has unknown field ${unknown.join(', ')}`);
    const price = (field: string, required: boolean): number | undefined => {
      const value = prices[field];
      if (value === undefined && !required) return undefined;
      if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
        fail(`needs "${field}" as a number ≥ 0 (USD per 1M tokens)`);
      }
      return value as number;
    };
    const input = price('input', true)!;
    table[id] = {
      input,
      output: price('output', true)!,
      cachedInput: price('cached_input', false) ?? input,
      cacheWrite: price('cache_write', false) ?? input,
    };
  }
  return table;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
