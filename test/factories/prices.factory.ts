import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A model's price in USD per 1M tokens (= micro-dollars per token), as MODEL_PRICES_FILE holds it. */
export interface TestModelPrice {
  input: number;
  output: number;
  cached_input?: number;
}

/** Writes `models` to a fresh MODEL_PRICES_FILE and returns its path. */
export function writePricesFile(models: Record<string, TestModelPrice>): string {
  const file = join(mkdtempSync(join(tmpdir(), 'model-prices-')), 'prices.json');
  writeFileSync(file, JSON.stringify({ models }));
  return file;
}
