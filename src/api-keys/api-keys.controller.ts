import { Body, Controller, Delete, Get, HttpCode, Param, Post } from '@nestjs/common';
import {
  ApiCreatedResponse,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiOperation,
  ApiParam,
  ApiTags,
} from '@nestjs/swagger';
import { ApiErrorResponse, JsonBodyOnly } from '@app/common';
import { type AuditContext, RequestAuditContext } from '../audit/audit-context';
import type { AuthUser } from '../auth/auth-user';
import { BearerAuth } from '../auth/decorators/bearer-auth.decorator';
import { CurrentUser } from '../auth/decorators/current-user.decorator';
import { MAX_KEYS_PER_USER, ApiKeysService } from './api-keys.service';
import { ApiKeyListDto, CreateApiKeyDto, CreatedApiKeyDto, mapApiKey } from './dto/api-key.dto';

const KEYS_FORBIDDEN = {
  detail: 'API keys cannot be used here; sign in with a password instead',
};

@ApiTags('keys')
@BearerAuth()
@ApiErrorResponse(
  403,
  'The account is disabled, or the request used an API key: keys cannot manage keys',
  KEYS_FORBIDDEN,
)
@ApiErrorResponse(429, 'Rate limit; see Retry-After')
@Controller('api/keys')
export class ApiKeysController {
  constructor(private readonly keys: ApiKeysService) {}

  @Post()
  @JsonBodyOnly()
  @ApiOperation({
    summary: 'Create a personal API key',
    description:
      'Returns the key once (`sk-cb-` + 43 characters, 256 random bits); only its HMAC is stored. ' +
      'Send it as `Authorization: Bearer <key>` on the routes its scopes allow, on `/v1/*` and on ' +
      'Socket.IO/WebSocket (scope `chat`). An expired or revoked key answers 401. ' +
      '`rate_limit_per_minute` and `tokens_per_day` give the key limits of its own, on top of its ' +
      "user's (both apply; 429 with Retry-After). " +
      `At most ${MAX_KEYS_PER_USER} keys per account (409).`,
  })
  @ApiCreatedResponse({ type: CreatedApiKeyDto })
  @ApiErrorResponse(
    400,
    'Invalid body (name, scopes, expires_in_days, rate_limit_per_minute, tokens_per_day, unknown field)',
    {
      detail: 'each scope must be one of: chat, history:read, history:write, models',
      errors: [
        {
          field: 'scopes',
          message: 'each scope must be one of: chat, history:read, history:write, models',
        },
      ],
    },
  )
  @ApiErrorResponse(409, 'Too many keys', {
    detail: `At most ${MAX_KEYS_PER_USER} API keys per account; revoke one first`,
  })
  async create(
    @CurrentUser() user: AuthUser,
    @Body() body: CreateApiKeyDto,
  ): Promise<CreatedApiKeyDto> {
    const created = await this.keys.create(user.id, {
      name: body.name,
      scopes: body.scopes,
      expiresInDays: body.expires_in_days,
      rateLimitPerMinute: body.rate_limit_per_minute,
      tokensPerDay: body.tokens_per_day,
    });
    return { ...mapApiKey(created), key: created.key };
  }

  @Get()
  @ApiOperation({
    summary: "The caller's API keys",
    description: 'Newest first; name, prefix, scopes and dates — never the key.',
  })
  @ApiOkResponse({ type: ApiKeyListDto })
  async list(@CurrentUser() user: AuthUser): Promise<ApiKeyListDto> {
    return { items: (await this.keys.list(user.id)).map(mapApiKey) };
  }

  @Delete(':key_id')
  @HttpCode(204)
  @ApiOperation({
    summary: 'Revoke an API key',
    description:
      'Effective at once on every instance: each use checks the key in the database. ' +
      'Recorded in the audit log (`api_key.revoked`).',
  })
  @ApiParam({ name: 'key_id', example: '7d0c6a43-8f0e-4a55-9d8e-2b7e4c1f9a10' })
  @ApiNoContentResponse({ description: 'Revoked' })
  @ApiErrorResponse(404, "Unknown id or another user's key", { detail: 'API key not found' })
  async revoke(
    @CurrentUser() user: AuthUser,
    @Param('key_id') keyId: string,
    @RequestAuditContext() context: AuditContext,
  ): Promise<void> {
    await this.keys.revoke(user.id, keyId, context);
  }
}
