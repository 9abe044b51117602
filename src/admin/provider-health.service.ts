import { Injectable } from '@nestjs/common';
import { ProviderRegistry } from '../providers/provider-registry';
import type { CircuitState } from '../providers/resilience/circuit-breaker';
import { OUTCOME_WINDOW_MS, type RecentOutcomes } from '../providers/resilience/outcome-window';

/** One key's health, named by its alias (`<provider>#<index>`, as logs name it) — never the key. */
export interface KeyHealth {
  alias: string;
  index: number;
  circuit: CircuitState;
  /** Refused by the provider (401/403): not used again until restart. */
  disabled: boolean;
  /** Milliseconds left of a 429 cool-down; 0 when none. */
  cooldownMs: number;
  /** True when a request could use this key now. */
  ready: boolean;
  recent: RecentOutcomes;
}

export interface ProviderHealth {
  provider: string;
  keys: KeyHealth[];
}

/**
 * Provider and key health as this instance sees it: breakers, cool-downs and error counts live
 * in each process (every instance learns a key's trouble from its own calls).
 */
@Injectable()
export class ProviderHealthService {
  readonly windowSeconds = OUTCOME_WINDOW_MS / 1000;

  constructor(private readonly registry: ProviderRegistry) {}

  snapshot(): ProviderHealth[] {
    return this.registry.names().map((provider) => ({
      provider,
      keys: this.registry.get(provider)!.pool.slots.map((slot) => ({
        alias: `${provider}#${slot.index}`,
        index: slot.index,
        circuit: slot.breaker.currentState,
        disabled: slot.disabled,
        cooldownMs: slot.cooldownRemainingMs(),
        ready: slot.isReady(),
        recent: slot.recent.snapshot(),
      })),
    }));
  }
}
