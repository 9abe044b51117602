import { randomBytes } from 'node:crypto';
import { AppConfig } from '@app/config';

/** An AppConfig for provider-layer tests: a random secret, 1 ms backoff, an instant local provider. */
export function providerTestConfig(env: Record<string, string> = {}): AppConfig {
  return AppConfig.fromEnv({
    SECRET_KEY: randomBytes(32).toString('hex'),
    AI_SERVICES__RETRY_BASE_MS: '1',
    AI_SERVICES__LOCAL_DELAY_MS: '0',
    ...env,
  });
}
