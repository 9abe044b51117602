import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AppConfig, ConfigError } from '@app/config';
import { PriceCatalog } from './price-catalog';

const SECRET = 'k3Jq9vX2mW8pL5tR7yB4nC6dF1gH0sZa';
const dir = mkdtempSync(join(tmpdir(), 'prices-'));
const file = (name: string, text: string) => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};
const load = (env: Record<string, string> = {}) =>
  AppConfig.fromEnv({ SECRET_KEY: SECRET, ...env });

describe(PriceCatalog.name, () => {
  it('prices the built-in models; local/echo is free on purpose, an unlisted model is unknown', () => {
    const sut = new PriceCatalog(load());
    expect(sut.priceOf('groq/llama-3.1-8b-instant')).toEqual({
      input: 0.05,
      output: 0.08,
      cachedInput: 0.05,
      cacheWrite: 0.05,
    });
    expect(sut.costMicros('local/echo', usage(1000, 1000))).toBe(0);
    expect(sut.costMicros('groq/not-listed', usage(1000, 1000))).toBeNull();
    expect(sut.maxCostMicros('groq/not-listed', 10, 10)).toBeNull();
  });

  it('charges uncached, cached and completion tokens at their prices (micro-dollars)', () => {
    const sut = new PriceCatalog(load());
    // gpt-4o: 2.5 in, 1.25 cached, 10 out (USD per 1M = micro-dollars per token).
    expect(sut.costMicros('openai/gpt-4o', usage(1000, 200, 400))).toBe(
      600 * 2.5 + 400 * 1.25 + 200 * 10,
    );
    expect(sut.maxCostMicros('openai/gpt-4o', 1000, 200)).toBe(1000 * 2.5 + 200 * 10);
  });

  it('charges prompt-cache writes at their own price (Anthropic), reads at the cached price', () => {
    const sut = new PriceCatalog(load());
    // claude-sonnet-4-6: 3 in, 0.3 cache read, 3.75 cache write, 15 out.
    const written = { ...usage(2000, 100, 500), cacheWriteTokens: 1200 };
    expect(sut.costMicros('anthropic/claude-sonnet-4-6', written)).toBe(
      300 * 3 + 500 * 0.3 + 1200 * 3.75 + 100 * 15,
    );
  });

  it("takes the provider's own charge when the response carries one (OpenRouter usage.cost)", () => {
    const sut = new PriceCatalog(load());
    expect(
      sut.costMicros('openrouter/unknown/model', { ...usage(10, 10), costUsd: 0.0012345 }),
    ).toBe(1235);
  });

  it('MODEL_PRICES_FILE replaces and extends the built-in prices', () => {
    const path = file(
      'ok.json',
      JSON.stringify({
        models: {
          'groq/llama-3.1-8b-instant': { input: 1, output: 2 },
          'compatible/tiny': { input: 3, output: 4, cached_input: 0.5 },
        },
      }),
    );
    const sut = new PriceCatalog(load({ MODEL_PRICES_FILE: path }));
    expect(sut.priceOf('groq/llama-3.1-8b-instant')).toEqual({
      input: 1,
      output: 2,
      cachedInput: 1,
      cacheWrite: 1,
    });
    expect(sut.priceOf('compatible/tiny')).toEqual({
      input: 3,
      output: 4,
      cachedInput: 0.5,
      cacheWrite: 3,
    });
    expect(sut.priceOf('openai/gpt-4o')?.input).toBe(2.5);
  });

  it.each([
    ['a missing file', join(dir, 'absent.json'), /cannot be read \(ENOENT\)/],
    ['bad JSON', file('bad.json', '{"models": '), /is not valid JSON/],
    ['no models object', file('none.json', '{"prices": {}}'), /must be an object with a "models"/],
    [
      'a negative price',
      file('neg.json', '{"models": {"a/b": {"input": -1, "output": 1}}}'),
      /model "a\/b" needs "input" as a number ≥ 0/,
    ],
    ['a missing output', file('out.json', '{"models": {"a/b": {"input": 1}}}'), /needs "output"/],
    [
      'an unknown field',
      file('field.json', '{"models": {"a/b": {"input": 1, "output": 1, "cost": 2}}}'),
      /has unknown field cost/,
    ],
    [
      'an id without provider',
      file('id.json', '{"models": {"gpt": {"input": 1, "output": 1}}}'),
      /model "gpt" must be named provider\/model/,
    ],
  ])('a bad MODEL_PRICES_FILE (%s) stops start-up', (_case, path, message) => {
    expect(() => load({ MODEL_PRICES_FILE: path })).toThrow(ConfigError);
    expect(() => load({ MODEL_PRICES_FILE: path })).toThrow(message);
  });
});

function usage(prompt: number, completion: number, cached?: number) {
  return {
    promptTokens: prompt,
    completionTokens: completion,
    totalTokens: prompt + completion,
    ...(cached ? { cacheReadTokens: cached } : {}),
  };
}
