import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  ArrayUnique,
  IsArray,
  IsIn,
  IsOptional,
  IsString,
  Matches,
} from 'class-validator';
import { HasCodePointLength, IsNumberInRange, IsWellFormedText } from '@app/common';
import { API_KEY_SCOPES, type ApiKeyScopeName } from '../api-key-scopes';
import type { ApiKeyRecord } from '../api-keys.service';

export const MAX_KEY_NAME_CHARS = 100;
export const MAX_KEY_LIFETIME_DAYS = 3650;
export const MAX_KEY_RATE_PER_MINUTE = 100_000;
export const MAX_KEY_TOKENS_PER_DAY = 1_000_000_000;

/** Body of `POST /api/keys`. */
export class CreateApiKeyDto {
  @ApiProperty({
    example: 'CI pipeline',
    minLength: 1,
    maxLength: MAX_KEY_NAME_CHARS,
    pattern: '^[^\\u0000-\\u001f\\u007f]*$',
    description: `A label of 1 to ${MAX_KEY_NAME_CHARS} characters; surrounding whitespace is trimmed.`,
  })
  @Transform(({ value }: { value: unknown }) => (typeof value === 'string' ? value.trim() : value))
  @IsString({ message: 'name must be a string' })
  @HasCodePointLength(1, MAX_KEY_NAME_CHARS, {
    message: `name must be 1 to ${MAX_KEY_NAME_CHARS} characters`,
  })
  // eslint-disable-next-line no-control-regex
  @Matches(/^[^\u0000-\u001f\u007f]*$/, { message: 'name must not contain control characters' })
  @IsWellFormedText()
  name: string;

  @ApiProperty({
    type: [String],
    enum: API_KEY_SCOPES,
    minItems: 1,
    maxItems: API_KEY_SCOPES.length,
    uniqueItems: true,
    example: ['chat', 'models'],
    description:
      'What the key may do: `chat` (POST /api/chat*, /v1/chat/completions, sockets), `history:read`, ' +
      '`history:write`, `models` (GET /api/models, /v1/models), `usage:read` (GET /api/usage). ' +
      'No key can manage keys or the account.',
  })
  @IsArray({ message: 'scopes must be an array' })
  @ArrayMinSize(1, { message: 'scopes must name at least one scope' })
  @ArrayMaxSize(API_KEY_SCOPES.length, { message: 'scopes has too many entries' })
  @ArrayUnique({ message: 'scopes must not repeat a scope' })
  @IsIn(API_KEY_SCOPES, {
    each: true,
    message: `each scope must be one of: ${API_KEY_SCOPES.join(', ')}`,
  })
  scopes: ApiKeyScopeName[];

  @ApiPropertyOptional({
    type: 'integer',
    minimum: 1,
    maximum: MAX_KEY_LIFETIME_DAYS,
    example: 90,
    description: 'Days until the key stops working (401); absent = never expires.',
  })
  @IsOptional()
  @IsNumberInRange(1, MAX_KEY_LIFETIME_DAYS, { integer: true })
  expires_in_days?: number;

  @ApiPropertyOptional({
    type: 'integer',
    minimum: 1,
    maximum: MAX_KEY_RATE_PER_MINUTE,
    example: 30,
    description:
      "This key's own limit of requests per minute, on every HTTP route; the user's limit " +
      "(RATE_LIMIT__DEFAULT_PER_MINUTE, shared by all their keys) applies as well. Absent: only the user's.",
  })
  @IsOptional()
  @IsNumberInRange(1, MAX_KEY_RATE_PER_MINUTE, { integer: true })
  rate_limit_per_minute?: number;

  @ApiPropertyOptional({
    type: 'integer',
    minimum: 1,
    maximum: MAX_KEY_TOKENS_PER_DAY,
    example: 50_000,
    description:
      "This key's own quota of tokens (prompt + completion) per UTC day, on every transport; the " +
      "user's QUOTA__TOKENS_PER_DAY (shared by the user's keys and tokens) applies as well. Absent: " +
      "the deployment default QUOTA__API_KEY_TOKENS_PER_DAY (0 there: only the user's).",
  })
  @IsOptional()
  @IsNumberInRange(1, MAX_KEY_TOKENS_PER_DAY, { integer: true })
  tokens_per_day?: number;
}

/** A key as listed: never the key itself. */
export class ApiKeyDto {
  @ApiProperty({ example: '7d0c6a43-8f0e-4a55-9d8e-2b7e4c1f9a10' })
  id: string;

  @ApiProperty({ example: 'CI pipeline' })
  name: string;

  @ApiProperty({ example: 'sk-cb-Xq3v9LmA0b', description: 'The first characters of the key' })
  prefix: string;

  @ApiProperty({ type: [String], enum: API_KEY_SCOPES, example: ['chat', 'models'] })
  scopes: ApiKeyScopeName[];

  @ApiProperty({ type: 'integer', nullable: true, example: 30 })
  rate_limit_per_minute: number | null;

  @ApiProperty({
    type: 'integer',
    nullable: true,
    example: 50_000,
    description: "The key's own daily token quota; null = the deployment default",
  })
  tokens_per_day: number | null;

  @ApiProperty({ example: '2026-12-01T10:00:00.000Z' })
  created_at: string;

  @ApiProperty({ type: String, nullable: true, example: '2027-03-01T10:00:00.000Z' })
  expires_at: string | null;

  @ApiProperty({
    type: String,
    nullable: true,
    example: null,
    description: 'Last successful use (updated at most once a minute)',
  })
  last_used_at: string | null;
}

/** The answer of `POST /api/keys`: the only time the key is shown. */
export class CreatedApiKeyDto extends ApiKeyDto {
  @ApiProperty({
    example: 'sk-cb-Xq3v9LmA0bR2c4d5e6f7g8h9i0j1k2l3m4n5o6p7q8r',
    description: 'The key: send it as `Authorization: Bearer <key>`. It is not shown again.',
  })
  key: string;
}

export class ApiKeyListDto {
  @ApiProperty({ type: [ApiKeyDto] })
  items: ApiKeyDto[];
}

export function mapApiKey(record: ApiKeyRecord): ApiKeyDto {
  return {
    id: record.id,
    name: record.name,
    prefix: record.prefix,
    scopes: record.scopes,
    rate_limit_per_minute: record.rateLimitPerMinute,
    tokens_per_day: record.tokensPerDay,
    created_at: record.createdAt.toISOString(),
    expires_at: record.expiresAt?.toISOString() ?? null,
    last_used_at: record.lastUsedAt?.toISOString() ?? null,
  };
}
