import { SetMetadata } from '@nestjs/common';

/** What a personal API key may do; a route names the scope a key needs (ApiKeyScope). */
export const API_KEY_SCOPES = ['chat', 'history:read', 'history:write', 'models'] as const;
export type ApiKeyScopeName = (typeof API_KEY_SCOPES)[number];

/** Metadata key of the scope a route requires of API keys. */
export const API_KEY_SCOPE_METADATA = 'apiKeyScope';

/**
 * Lets personal API keys with `scope` call this route (access tokens always may). Routes without
 * it refuse keys with 403: keys cannot manage keys or the account.
 */
export const ApiKeyScope = (scope: ApiKeyScopeName) => SetMetadata(API_KEY_SCOPE_METADATA, scope);
