import { applyDecorators, SetMetadata } from '@nestjs/common';
import { ApiErrorResponse } from '@app/common';

/** What a personal API key may do; a route names the scope a key needs (ApiKeyScope). */
export const API_KEY_SCOPES = [
  'chat',
  'history:read',
  'history:write',
  'models',
  'usage:read',
] as const;
export type ApiKeyScopeName = (typeof API_KEY_SCOPES)[number];

/** Metadata key of the scope a route requires of API keys. */
export const API_KEY_SCOPE_METADATA = 'apiKeyScope';

/** The scope metadata alone, for routes that document their 403 in another error shape (`/v1`). */
export const RequireApiKeyScope = (scope: ApiKeyScopeName) =>
  SetMetadata(API_KEY_SCOPE_METADATA, scope);

/**
 * Lets personal API keys with `scope` call this route (access tokens always may), and documents
 * its 403. Routes without it refuse keys with 403: keys cannot manage keys or the account.
 */
export function ApiKeyScope(scope: ApiKeyScopeName): ClassDecorator & MethodDecorator {
  return applyDecorators(
    RequireApiKeyScope(scope),
    ApiErrorResponse(
      403,
      `The account is disabled, or the request used an API key without the \`${scope}\` scope ` +
        `(\`{"detail": "This API key does not have the \\"${scope}\\" scope"}\`)`,
      { detail: 'Account is disabled' },
    ),
  );
}
