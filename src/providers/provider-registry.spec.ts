import { randomBytes } from 'node:crypto';
import { Logger } from '@nestjs/common';
import { InvalidInputError } from '@app/common';
import { AppConfig, ConfigError } from '@app/config';
import { ProviderSimulator } from '@app/testing/simulator/provider-simulator';
import { ProviderRegistry } from './provider-registry';

const SECRET_KEY = randomBytes(32).toString('hex');

function registry(env: Record<string, string> = {}): ProviderRegistry {
  return new ProviderRegistry(AppConfig.fromEnv({ SECRET_KEY, ...env }));
}

function thrown(action: () => unknown): unknown {
  try {
    action();
  } catch (error) {
    return error;
  }
  throw new Error('expected an error');
}

const GROQ = { AI_SERVICES__GROQ_API_KEY: 'groq-key' };

describe(ProviderRegistry.name, () => {
  // Each spec file has its own module registry: this silences the start-up lines of this file only.
  beforeAll(() => Logger.overrideLogger(false));

  describe('providers and key pools', () => {
    it('registers the providers with keys, in registration order, and always the local one', () => {
      const sut = registry({
        AI_SERVICES__GEMINI_API_KEY: 'gemini-key',
        AI_SERVICES__OPEN_ROUTER_API_KEY_1: 'or-key-one',
        ...GROQ,
      });
      expect(sut.names()).toEqual(['openrouter', 'groq', 'gemini', 'local']);
      expect(registry().names()).toEqual(['local']);
    });

    it('numbered OpenRouter keys form one pool, in numeric order after the unnumbered key', () => {
      const sut = registry({
        AI_SERVICES__OPEN_ROUTER_API_KEY_10: 'or-key-ten',
        AI_SERVICES__OPEN_ROUTER_API_KEY_2: 'or-key-two',
        AI_SERVICES__OPEN_ROUTER_API_KEY: 'or-key-plain',
      });
      const slots = sut.get('openrouter')!.pool.slots;
      expect(slots.map((slot) => [slot.index, slot.key])).toEqual([
        [0, 'or-key-plain'],
        [1, 'or-key-two'],
        [2, 'or-key-ten'],
      ]);
    });

    it('providers that need no key get one keyless slot', () => {
      const sut = registry({
        AI_SERVICES__OPENAI_COMPATIBLE_BASE_URL: 'http://127.0.0.1:11434/v1',
        AI_SERVICES__OPENAI_COMPATIBLE_MODELS: 'llama3.2:3b',
      });
      for (const name of ['openai-compatible', 'local']) {
        expect(sut.get(name)!.pool.slots.map((slot) => slot.key)).toEqual([undefined]);
      }
    });

    it('an OpenAI-compatible server needs a base URL and at least one model', () => {
      const withoutModels = { AI_SERVICES__OPENAI_COMPATIBLE_BASE_URL: 'http://127.0.0.1:1/v1' };
      expect(registry(withoutModels).get('openai-compatible')).toBeUndefined();
      const withoutUrl = { AI_SERVICES__OPENAI_COMPATIBLE_MODELS: 'qwen2.5' };
      expect(registry(withoutUrl).get('openai-compatible')).toBeUndefined();
    });

    it('keys() lists every key of every registered provider', () => {
      const sut = registry({
        AI_SERVICES__OPEN_ROUTER_API_KEY_1: 'or-key-one',
        AI_SERVICES__OPEN_ROUTER_API_KEY_2: 'or-key-two',
        AI_SERVICES__GEMINI_API_KEY: 'gemini-key',
        AI_SERVICES__OPENAI_API_KEY: 'sk-openai',
        AI_SERVICES__OPENAI_COMPATIBLE_BASE_URL: 'http://127.0.0.1:11434/v1',
        AI_SERVICES__OPENAI_COMPATIBLE_MODELS: 'llama3.2:3b',
        AI_SERVICES__OPENAI_COMPATIBLE_API_KEY: 'ollama-key',
        ...GROQ,
      });
      expect(sut.keys()).toEqual([
        'or-key-one',
        'or-key-two',
        'groq-key',
        'gemini-key',
        'sk-openai',
        'ollama-key',
      ]);
      expect(registry().keys()).toEqual([]);
    });
  });

  describe('resolve', () => {
    it('no model → the default model', () => {
      const sut = registry(GROQ);
      expect(sut.resolve()).toEqual(sut.defaultModel);
      expect(sut.resolve('')).toEqual(sut.defaultModel);
    });

    it('`provider/model` → its provider, model name and catalog context window', () => {
      expect(registry(GROQ).resolve('groq/llama-3.3-70b-versatile')).toEqual({
        id: 'groq/llama-3.3-70b-versatile',
        provider: 'groq',
        model: 'llama-3.3-70b-versatile',
        contextWindow: 131_072,
        inputs: [],
      });
    });

    it('an OpenRouter model outside the catalog is routed with the default context window', () => {
      const sut = registry({ AI_SERVICES__OPEN_ROUTER_API_KEY: 'or-key' });
      expect(sut.resolve('openrouter/mistralai/mixtral-8x7b-instruct:free')).toEqual({
        id: 'openrouter/mistralai/mixtral-8x7b-instruct:free',
        provider: 'openrouter',
        model: 'mistralai/mixtral-8x7b-instruct:free',
        contextWindow: 8192,
        inputs: [],
      });
    });

    it('an unknown model or an unconfigured provider → InvalidInputError naming the valid prefixes', () => {
      const sut = registry(GROQ);
      for (const model of ['nope/x', 'gemini/gemini-2.0-flash', 'groq/not-a-model', 'groq', '/x']) {
        const error = thrown(() => sut.resolve(model));
        expect(error).toBeInstanceOf(InvalidInputError);
        expect((error as InvalidInputError).message).toBe(
          `Unknown model "${model}". Valid prefixes: groq/, local/ (GET /api/models lists the models)`,
        );
        expect((error as InvalidInputError).errors).toEqual([
          { field: 'model', message: 'unknown model or provider not configured' },
        ]);
      }
    });

    it('a very long unknown model id is shortened in the error', () => {
      const error = thrown(() => registry().resolve(`nope/${'x'.repeat(200)}`));
      expect((error as Error).message).toContain(`"nope/${'x'.repeat(95)}…"`);
    });
  });

  describe('default model', () => {
    it('the configured one', () => {
      const sut = registry({ ...GROQ, AI_SERVICES__DEFAULT_MODEL: 'groq/llama-3.3-70b-versatile' });
      expect(sut.defaultModel.id).toBe('groq/llama-3.3-70b-versatile');
    });

    it('else the first model of the first registered provider, else local/echo', () => {
      const both = registry({ ...GROQ, AI_SERVICES__OPEN_ROUTER_API_KEY: 'or-key' });
      expect(both.defaultModel.id).toBe('openrouter/openai/gpt-4o-mini');
      expect(registry(GROQ).defaultModel.id).toBe('groq/llama-3.1-8b-instant');
      expect(registry().defaultModel).toEqual({
        id: 'local/echo',
        provider: 'local',
        model: 'echo',
        contextWindow: 32_768,
        inputs: ['image', 'pdf'],
      });
    });

    it('a default or fallback model of an unconfigured provider refuses to start', () => {
      const badDefault = thrown(() =>
        registry({ ...GROQ, AI_SERVICES__DEFAULT_MODEL: 'gemini/gemini-2.0-flash' }),
      );
      expect(badDefault).toBeInstanceOf(ConfigError);
      expect((badDefault as Error).message).toBe(
        'AI_SERVICES__DEFAULT_MODEL names "gemini/gemini-2.0-flash", which is not a model of a configured provider (groq, local)',
      );
      const badFallback = thrown(() =>
        registry({ ...GROQ, AI_SERVICES__FALLBACK_MODELS: 'local/echo,openai/gpt-4o' }),
      );
      expect(badFallback).toBeInstanceOf(ConfigError);
      expect((badFallback as Error).message).toMatch(/^AI_SERVICES__FALLBACK_MODELS names "openai/);
    });

    it('listModels marks exactly the default; a default outside the catalog is listed first', () => {
      const listed = registry(GROQ).listModels();
      expect(listed.filter((model) => model.default).map((model) => model.id)).toEqual([
        'groq/llama-3.1-8b-instant',
      ]);
      expect(listed.map((model) => model.provider)).toContain('local');

      const unlisted = registry({
        AI_SERVICES__OPEN_ROUTER_API_KEY: 'or-key',
        AI_SERVICES__DEFAULT_MODEL: 'openrouter/vendor/new-model',
      }).listModels();
      expect(unlisted[0]).toEqual({
        id: 'openrouter/vendor/new-model',
        provider: 'openrouter',
        contextWindow: 8192,
        inputs: [],
        tools: true,
        default: true,
      });
      expect(unlisted.filter((model) => model.default)).toHaveLength(1);
    });
  });

  describe('chain', () => {
    it('requested model, then the request fallbacks, then the configured ones; each once', () => {
      const sut = registry({
        ...GROQ,
        AI_SERVICES__FALLBACK_MODELS: 'groq/llama-3.3-70b-versatile,local/echo',
      });
      const ids = sut
        .chain('groq/qwen/qwen3-32b', ['local/echo', 'groq/qwen/qwen3-32b'])
        .map((model) => model.id);
      expect(ids).toEqual(['groq/qwen/qwen3-32b', 'local/echo', 'groq/llama-3.3-70b-versatile']);
      expect(sut.chain().map((model) => model.id)).toEqual([
        'groq/llama-3.1-8b-instant',
        'groq/llama-3.3-70b-versatile',
        'local/echo',
      ]);
    });

    it('leaves out fallbacks that cannot read the attachments of the request', () => {
      const sut = registry({
        ...GROQ,
        AI_SERVICES__GEMINI_API_KEY: 'g-key',
        AI_SERVICES__FALLBACK_MODELS: 'groq/llama-3.3-70b-versatile,gemini/gemini-2.0-flash',
      });
      const ids = (needs: ('image' | 'pdf')[]) =>
        sut.chain('local/echo', [], needs).map((model) => model.id);
      expect(ids([])).toEqual([
        'local/echo',
        'groq/llama-3.3-70b-versatile',
        'gemini/gemini-2.0-flash',
      ]);
      expect(ids(['image', 'pdf'])).toEqual(['local/echo', 'gemini/gemini-2.0-flash']);
      // The requested model itself is checked before the call (400), never dropped here.
      expect(sut.chain('groq/llama-3.1-8b-instant', [], ['image']).map((m) => m.id)).toEqual([
        'groq/llama-3.1-8b-instant',
        'gemini/gemini-2.0-flash',
      ]);
    });

    it('an unknown request fallback is refused like an unknown model', () => {
      expect(() => registry(GROQ).chain(undefined, ['nope/model'])).toThrow(InvalidInputError);
    });
  });

  describe('base URL overrides', () => {
    let simulator: ProviderSimulator;
    let url: string;

    beforeAll(async () => {
      simulator = new ProviderSimulator();
      url = await simulator.start();
    });

    afterAll(() => simulator.stop());

    beforeEach(() => simulator.reset());

    const request = { model: '', messages: [{ role: 'user' as const, content: 'hi' }] };

    it('each hosted provider sends its requests to the configured base URL', async () => {
      const sut = registry({
        AI_SERVICES__OPEN_ROUTER_API_KEY_1: 'or-key-one',
        AI_SERVICES__OPEN_ROUTER_BASE_URL: `${url}/openrouter/v1`,
        AI_SERVICES__GROQ_API_KEY: 'groq-key',
        AI_SERVICES__GROQ_BASE_URL: `${url}/groq/v1`,
        AI_SERVICES__OPENAI_API_KEY: 'sk-openai',
        AI_SERVICES__OPENAI_BASE_URL: `${url}/openai/v1`,
        AI_SERVICES__GEMINI_API_KEY: 'gemini-key',
        AI_SERVICES__GEMINI_BASE_URL: url,
        AI_SERVICES__OPENAI_COMPATIBLE_BASE_URL: `${url}/ollama/v1`,
        AI_SERVICES__OPENAI_COMPATIBLE_MODELS: 'llama3.2:3b',
      });
      const calls: [string, string, string | undefined][] = [
        ['openrouter', 'openai/gpt-4o-mini', 'or-key-one'],
        ['groq', 'llama-3.1-8b-instant', 'groq-key'],
        ['openai', 'gpt-4o-mini', 'sk-openai'],
        ['gemini', 'gemini-2.0-flash', 'gemini-key'],
        ['openai-compatible', 'llama3.2:3b', undefined],
      ];
      for (const [name, model, key] of calls) {
        await sut.get(name)!.provider.complete({ ...request, model }, key);
      }
      expect(simulator.requests.map((r) => [r.path, r.apiKey])).toEqual([
        ['/openrouter/v1/chat/completions', 'or-key-one'],
        ['/groq/v1/chat/completions', 'groq-key'],
        ['/openai/v1/chat/completions', 'sk-openai'],
        ['/v1beta/models/gemini-2.0-flash:generateContent', 'gemini-key'],
        ['/ollama/v1/chat/completions', 'no-key'],
      ]);
    });
  });
});
