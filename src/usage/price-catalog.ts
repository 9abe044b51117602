import { Injectable } from '@nestjs/common';
import { AppConfig, type ModelPrice, type ModelPriceTable } from '@app/config';
import type { TokenUsage } from '../providers/chat-provider.interface';

/** Micro-dollars (millionths of a USD) in one USD: costs are stored and counted as integers. */
export const MICROS_PER_USD = 1_000_000;

/**
 * Prices of models (config/model-prices.json + MODEL_PRICES_FILE) and the cost of a call in
 * micro-dollars. A price in USD per 1M tokens is the same number in micro-dollars per token.
 * A model without a price has an unknown cost: `null`, never 0.
 */
@Injectable()
export class PriceCatalog {
  private readonly prices: ModelPriceTable;

  constructor(config: AppConfig) {
    this.prices = config.usage.prices;
  }

  /** The price of `provider/model`, or undefined when the catalog does not list it. */
  priceOf(modelId: string): ModelPrice | undefined {
    return Object.hasOwn(this.prices, modelId) ? this.prices[modelId] : undefined;
  }

  /**
   * What a call cost in micro-dollars: the provider's own charge when it reports one
   * (OpenRouter), else the tokens at the catalog's price; null when neither is known.
   */
  costMicros(modelId: string, usage: TokenUsage): number | null {
    if (usage.costUsd !== undefined) return Math.round(usage.costUsd * MICROS_PER_USD);
    const price = this.priceOf(modelId);
    if (!price) return null;
    const cacheRead = Math.min(usage.cacheReadTokens ?? 0, usage.promptTokens);
    const cacheWrite = Math.min(usage.cacheWriteTokens ?? 0, usage.promptTokens - cacheRead);
    return Math.round(
      (usage.promptTokens - cacheRead - cacheWrite) * price.input +
        cacheRead * price.cachedInput +
        cacheWrite * price.cacheWrite +
        usage.completionTokens * price.output,
    );
  }

  /**
   * What a generation cost, for its budget: the provider's report (`reported`) at the price or
   * its own charge; without one (abort, failure after some text) the `estimated` tokens; a call
   * that failed before any text (`estimated` undefined) cost nothing. Null when unpriced.
   */
  replyCostMicros(
    modelId: string,
    reported: TokenUsage | undefined,
    estimated: TokenUsage | undefined,
  ): number | null {
    const usage = reported ?? estimated;
    return usage ? this.costMicros(modelId, usage) : 0;
  }

  /**
   * The most a call can cost (nothing cached, every reply token used), rounded up; null when the
   * model has no price. What a budget reserves before the call.
   */
  maxCostMicros(modelId: string, promptTokens: number, maxReplyTokens: number): number | null {
    const price = this.priceOf(modelId);
    if (!price) return null;
    return Math.ceil(promptTokens * price.input + maxReplyTokens * price.output);
  }
}

/** Micro-dollars as USD for JSON (exact to the micro-dollar). */
export function microsToUsd(micros: number): number {
  return Math.round(micros) / MICROS_PER_USD;
}
