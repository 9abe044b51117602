import { ApiProperty } from '@nestjs/swagger';
import type { ProviderHealth } from '../provider-health.service';

class RecentOutcomesDto {
  @ApiProperty({ type: 'integer', example: 42 })
  attempts: number;

  @ApiProperty({ type: 'integer', example: 3 })
  errors: number;

  @ApiProperty({ example: 0.071, description: 'errors / attempts; 0 without attempts' })
  error_rate: number;
}

class KeyHealthDto {
  @ApiProperty({
    example: 'openrouter#1',
    description:
      '`<provider>#<index>` in the configured key order, as the logs name keys; never the key',
  })
  alias: string;

  @ApiProperty({ enum: ['closed', 'open', 'half_open'], example: 'closed' })
  circuit: string;

  @ApiProperty({
    example: false,
    description: 'Refused by the provider (401/403); unused until restart',
  })
  disabled: boolean;

  @ApiProperty({ type: 'integer', example: 0, description: 'Milliseconds left of a 429 cool-down' })
  cooldown_ms: number;

  @ApiProperty({ example: true, description: 'A request could use this key now' })
  ready: boolean;

  @ApiProperty({ type: RecentOutcomesDto })
  recent: RecentOutcomesDto;
}

class ProviderHealthDto {
  @ApiProperty({ example: 'openrouter' })
  provider: string;

  @ApiProperty({ type: [KeyHealthDto] })
  keys: KeyHealthDto[];
}

export class ProviderHealthListDto {
  @ApiProperty({ type: [ProviderHealthDto] })
  items: ProviderHealthDto[];

  @ApiProperty({ example: 300, description: 'How far back `recent` counts' })
  window_seconds: number;
}

export function mapProviderHealth(
  providers: ProviderHealth[],
  windowSeconds: number,
): ProviderHealthListDto {
  return {
    window_seconds: windowSeconds,
    items: providers.map(({ provider, keys }) => ({
      provider,
      keys: keys.map((key) => ({
        alias: key.alias,
        circuit: key.circuit,
        disabled: key.disabled,
        cooldown_ms: Math.ceil(key.cooldownMs),
        ready: key.ready,
        recent: {
          attempts: key.recent.attempts,
          errors: key.recent.errors,
          error_rate: Math.round(key.recent.errorRate * 1000) / 1000,
        },
      })),
    })),
  };
}
