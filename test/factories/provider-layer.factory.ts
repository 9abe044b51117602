import { ProviderSimulator } from '@app/testing/simulator/provider-simulator';
import { providerTestConfig } from '@app/testing/provider-test-config';
import type { GenerationEvent } from '../../src/providers/generation.types';
import { ProviderRegistry } from '../../src/providers/provider-registry';
import { ProvidersService } from '../../src/providers/providers.service';
import { ResilientExecutor } from '../../src/providers/resilience/resilient-executor';

/** A real ProvidersService for an environment (fast backoff unless overridden). */
export function providersFor(env: Record<string, string>): ProvidersService {
  const config = providerTestConfig({ AI_SERVICES__RETRY_MAX_MS: '2000', ...env });
  const registry = new ProviderRegistry(config);
  return new ProvidersService(registry, new ResilientExecutor(config, registry));
}

export function textOf(events: GenerationEvent[]): string {
  return events.map((event) => (event.type === 'delta' ? event.text : '')).join('');
}

/** Consumes a stream; returns its events and the error that ended it, if any. */
export async function drain(
  stream: AsyncIterable<GenerationEvent>,
): Promise<{ events: GenerationEvent[]; error?: unknown; text: string }> {
  const events: GenerationEvent[] = [];
  try {
    for await (const event of stream) events.push(event);
    return { events, text: textOf(events) };
  } catch (error) {
    return { events, error, text: textOf(events) };
  }
}

/** The error `promise` rejects with; throws when it resolves. */
export async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

/**
 * One provider simulator for the test file: started before its tests, reset (log, faults, cache)
 * before each, stopped after them. Read `sim` and `url` inside tests or hooks.
 */
export function simulatorForFile(): { readonly sim: ProviderSimulator; readonly url: string } {
  const sim = new ProviderSimulator();
  let url: string | undefined;
  beforeAll(async () => {
    url = await sim.start();
  });
  afterAll(() => sim.stop());
  beforeEach(() => sim.reset());
  return {
    sim,
    get url() {
      if (url === undefined) throw new Error('the simulator starts in beforeAll');
      return url;
    },
  };
}
