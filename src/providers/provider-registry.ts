import { Injectable, Logger } from '@nestjs/common';
import { InvalidInputError } from '@app/common';
import {
  AppConfig,
  ConfigError,
  type AiServicesConfig,
  type ProviderCredentials,
} from '@app/config';
import { ANTHROPIC_DEFAULT_BASE_URL, AnthropicProvider } from './adapters/anthropic.provider';
import { GeminiProvider } from './adapters/gemini.provider';
import { LocalProvider } from './adapters/local.provider';
import {
  OpenAiCompatibleProvider,
  type OpenAiCompatibleOptions,
} from './adapters/openai-compatible.provider';
import type { ChatProvider } from './chat-provider.interface';
import type { ListedModel, ResolvedModel } from './generation.types';
import {
  type BinaryInputKind,
  catalogModels,
  binaryInputsFor,
  contextWindowFor,
  DEFAULT_CONTEXT_WINDOW,
  LOCAL_MODEL_ID,
} from './model-catalog';
import { KeyPool } from './resilience/key-pool';

/** A configured provider: its adapter and (when it needs any) its keys. */
export interface ProviderSetup {
  provider: ChatProvider;
  keys: string[];
}

/** One provider family the app can use: builds its adapter when the config enables it. */
export interface ProviderRegistration {
  name: string;
  /** The adapter and keys, or undefined when this provider is not configured. */
  create(config: AppConfig): ProviderSetup | undefined;
}

/** An OpenRouter model id is itself `vendor/model` (optionally `:variant`). */
const OPENROUTER_MODEL = /^[\w.-]+\/[\w.:-]+$/;

/** A hosted service speaking OpenAI's API, with its models in the catalog and its own keys. */
interface HostedOpenAiService {
  name: string;
  credentials: (ai: AiServicesConfig) => ProviderCredentials;
  /** The public endpoint, used unless the credentials name another `baseUrl`. */
  defaultBaseUrl: string;
  maxTokensParam: OpenAiCompatibleOptions['maxTokensParam'];
  /** Options only this service needs. */
  extra?: (
    ai: AiServicesConfig,
  ) => Pick<OpenAiCompatibleOptions, 'acceptsUnlisted' | 'defaultHeaders'>;
}

/** The registration of a hosted OpenAI-compatible service: enabled when it has at least one key. */
function hostedOpenAiService(service: HostedOpenAiService): ProviderRegistration {
  return {
    name: service.name,
    create: ({ ai }) => {
      const { keys, baseUrl } = service.credentials(ai);
      if (keys.length === 0) return undefined;
      return {
        keys,
        provider: new OpenAiCompatibleProvider({
          name: service.name,
          baseUrl: baseUrl ?? service.defaultBaseUrl,
          models: catalogModels(service.name),
          ...service.extra?.(ai),
          maxTokensParam: service.maxTokensParam,
          timeoutMs: ai.resilience.totalTimeoutMs,
        }),
      };
    },
  };
}

/**
 * Every provider the app knows, in the order used to pick a default model. Adding a provider is
 * one adapter file plus one entry here.
 */
export const PROVIDER_REGISTRATIONS: readonly ProviderRegistration[] = [
  hostedOpenAiService({
    name: 'openrouter',
    credentials: (ai) => ai.openRouter,
    defaultBaseUrl: 'https://openrouter.ai/api/v1',
    maxTokensParam: 'max_tokens',
    extra: (ai) => ({
      acceptsUnlisted: (model) => OPENROUTER_MODEL.test(model),
      // OpenRouter's app attribution (https://openrouter.ai/docs/app-attribution).
      defaultHeaders: {
        'HTTP-Referer': ai.openRouterSiteUrl,
        'X-Title': ai.openRouterAppName,
      },
    }),
  }),
  hostedOpenAiService({
    name: 'groq',
    credentials: (ai) => ai.groq,
    defaultBaseUrl: 'https://api.groq.com/openai/v1',
    maxTokensParam: 'max_tokens',
  }),
  {
    name: 'gemini',
    create: ({ ai }) =>
      ai.gemini.keys.length === 0
        ? undefined
        : { keys: ai.gemini.keys, provider: new GeminiProvider(ai.gemini.baseUrl) },
  },
  hostedOpenAiService({
    name: 'openai',
    credentials: (ai) => ai.openai,
    defaultBaseUrl: 'https://api.openai.com/v1',
    maxTokensParam: 'max_completion_tokens',
  }),
  {
    name: 'anthropic',
    create: ({ ai }) =>
      ai.anthropic.keys.length === 0
        ? undefined
        : {
            keys: ai.anthropic.keys,
            provider: new AnthropicProvider({
              baseUrl: ai.anthropic.baseUrl ?? ANTHROPIC_DEFAULT_BASE_URL,
              defaultMaxTokens: ai.anthropic.defaultMaxTokens,
              timeoutMs: ai.resilience.totalTimeoutMs,
            }),
          },
  },
  {
    name: 'openai-compatible',
    create: ({ ai }) =>
      !ai.openaiCompatible.baseUrl || ai.openaiCompatible.models.length === 0
        ? undefined
        : {
            keys: ai.openaiCompatible.keys,
            provider: new OpenAiCompatibleProvider({
              name: 'openai-compatible',
              baseUrl: ai.openaiCompatible.baseUrl,
              models: ai.openaiCompatible.models.map((model) => ({
                model,
                contextWindow: DEFAULT_CONTEXT_WINDOW,
              })),
              maxTokensParam: 'max_tokens',
              timeoutMs: ai.resilience.totalTimeoutMs,
            }),
          },
  },
  {
    // Always available: the offline answer when nothing else is configured.
    name: 'local',
    create: ({ ai }) => ({ keys: [], provider: new LocalProvider(ai.localDelayMs) }),
  },
];

/** A configured provider with its key pool (key health, breakers). */
export interface RegisteredProvider {
  provider: ChatProvider;
  pool: KeyPool;
}

/**
 * The providers enabled by the configuration, their key pools, and model-id resolution.
 * Checks at start-up that the configured default and fallback models exist.
 */
@Injectable()
export class ProviderRegistry {
  private readonly logger = new Logger('Providers');
  private readonly providers = new Map<string, RegisteredProvider>();
  readonly defaultModel: ResolvedModel;
  readonly configFallbacks: ResolvedModel[];

  constructor(config: AppConfig) {
    const { resilience } = config.ai;
    for (const registration of PROVIDER_REGISTRATIONS) {
      const setup = registration.create(config);
      if (!setup) continue;
      const name = setup.provider.name;
      const pool = new KeyPool(setup.keys, {
        breakerThreshold: resilience.breakerThreshold,
        breakerCooldownMs: resilience.breakerCooldownMs,
        onBreakerChange: (keyIndex, state) => {
          this.logger.warn({ provider: name, keyIndex, state }, `Circuit breaker ${state}`);
        },
      });
      this.providers.set(name, { provider: setup.provider, pool });
    }
    this.defaultModel = this.pickDefault(config.ai.defaultModel);
    this.configFallbacks = config.ai.fallbackModels.map((id) =>
      this.resolveOrConfigError('AI_SERVICES__FALLBACK_MODELS', id),
    );
    this.logger.log(
      `Providers: ${[...this.providers.keys()].join(', ')}; default model ${this.defaultModel.id}`,
    );
  }

  /** The configured provider `name`, if any. */
  get(name: string): RegisteredProvider | undefined {
    return this.providers.get(name);
  }

  /** Every key of every configured provider, in registration order (to mask them in logs). */
  keys(): string[] {
    return [...this.providers.values()].flatMap(({ pool }) =>
      pool.slots.flatMap((slot) => (slot.key === undefined ? [] : [slot.key])),
    );
  }

  /** Configured provider names, in registration order. */
  names(): string[] {
    return [...this.providers.keys()];
  }

  /** Every model of every configured provider; exactly one is `default`. */
  listModels(): ListedModel[] {
    const items: ListedModel[] = [];
    for (const { provider } of this.providers.values()) {
      for (const model of provider.listModels()) {
        items.push({
          id: model.id,
          provider: model.provider,
          contextWindow: model.contextWindow,
          inputs: binaryInputsFor(model.provider, model.id.slice(model.provider.length + 1)),
          tools: provider.callsTools !== false,
          default: model.id === this.defaultModel.id,
        });
      }
    }
    if (!items.some((item) => item.default)) {
      // A default outside the catalog (an unlisted OpenRouter model) is still listed.
      items.unshift({
        id: this.defaultModel.id,
        provider: this.defaultModel.provider,
        contextWindow: this.defaultModel.contextWindow,
        inputs: this.defaultModel.inputs,
        tools: this.providers.get(this.defaultModel.provider)?.provider.callsTools !== false,
        default: true,
      });
    }
    return items;
  }

  /** `provider/model` → provider and model; the default when absent. Throws InvalidInputError. */
  resolve(modelId?: string): ResolvedModel {
    if (modelId === undefined || modelId === null || modelId === '') return this.defaultModel;
    const resolved = this.tryResolve(modelId);
    if (!resolved) {
      const shown = modelId.length > 100 ? `${modelId.slice(0, 100)}…` : modelId;
      throw new InvalidInputError(
        `Unknown model "${shown}". Valid prefixes: ${this.names()
          .map((name) => `${name}/`)
          .join(', ')} (GET /api/models lists the models)`,
        [{ field: 'model', message: 'unknown model or provider not configured' }],
      );
    }
    return resolved;
  }

  /**
   * The models to try for one request, in order: the requested (or default) model, the
   * request's fallbacks, then the configured fallbacks; each once. Fallbacks that cannot read
   * the attachments the request carries (`needs`) are left out: they would only refuse it.
   */
  chain(
    modelId?: string,
    fallbackModels: readonly string[] = [],
    needs: readonly BinaryInputKind[] = [],
  ): ResolvedModel[] {
    const primary = this.resolve(modelId);
    const fallbacks = [...fallbackModels.map((id) => this.resolve(id)), ...this.configFallbacks];
    const seen = new Set<string>();
    return [
      primary,
      ...fallbacks.filter((model) => needs.every((kind) => model.inputs.includes(kind))),
    ].filter((model) => !seen.has(model.id) && seen.add(model.id));
  }

  private tryResolve(modelId: string): ResolvedModel | undefined {
    const slash = modelId.indexOf('/');
    if (slash <= 0) return undefined;
    const providerName = modelId.slice(0, slash);
    const model = modelId.slice(slash + 1);
    const entry = this.providers.get(providerName);
    if (!entry || !model || !entry.provider.supportsModel(model)) return undefined;
    return {
      id: `${providerName}/${model}`,
      provider: providerName,
      model,
      contextWindow:
        entry.provider.listModels().find((info) => info.id === modelId)?.contextWindow ??
        contextWindowFor(providerName, model),
      inputs: binaryInputsFor(providerName, model),
    };
  }

  private pickDefault(configured: string | undefined): ResolvedModel {
    if (configured) return this.resolveOrConfigError('AI_SERVICES__DEFAULT_MODEL', configured);
    for (const { provider } of this.providers.values()) {
      const first = provider.listModels()[0];
      if (first) return this.tryResolve(first.id)!;
    }
    return this.tryResolve(LOCAL_MODEL_ID)!;
  }

  private resolveOrConfigError(variable: string, modelId: string): ResolvedModel {
    const resolved = this.tryResolve(modelId);
    if (!resolved) {
      throw new ConfigError(
        `${variable} names "${modelId}", which is not a model of a configured provider (${this.names().join(', ')})`,
      );
    }
    return resolved;
  }
}
