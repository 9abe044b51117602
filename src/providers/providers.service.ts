import { Injectable } from '@nestjs/common';
import type {
  GenerationEvent,
  GenerationRequest,
  GenerationResult,
  ListedModel,
  ResolvedModel,
} from './generation.types';
import { ProviderRegistry } from './provider-registry';
import { ResilientExecutor } from './resilience/resilient-executor';

export type {
  GenerationEvent,
  GenerationRequest,
  GenerationResult,
  ListedModel,
  ResolvedModel,
} from './generation.types';

/**
 * What the rest of the app uses to talk to LLMs: model listing and resolution, and
 * generations (whole or streamed) that always go through the resilience layer.
 */
@Injectable()
export class ProvidersService {
  constructor(
    private readonly registry: ProviderRegistry,
    private readonly executor: ResilientExecutor,
  ) {}

  /** Models of the configured providers; exactly one has `default: true`. */
  listModels(): ListedModel[] {
    return this.registry.listModels();
  }

  /**
   * `provider/model` (or the configured default when absent) resolved to its provider and
   * context window. Throws InvalidInputError (400) for an unknown model or a provider that is
   * not configured, naming the valid prefixes.
   */
  resolveModel(modelId?: string): ResolvedModel {
    return this.registry.resolve(modelId);
  }

  /** The whole reply. Throws ProviderError/ProviderUnavailableError/ProviderTimeoutError, GenerationAbortedError. */
  complete(request: GenerationRequest): Promise<GenerationResult> {
    return this.executor.complete(request);
  }

  /**
   * The reply as `start`, `delta`…, `done`. Stopping the iteration early (or aborting
   * `request.signal`) closes the upstream connection.
   */
  stream(request: GenerationRequest): AsyncIterable<GenerationEvent> {
    return this.executor.stream(request);
  }
}
