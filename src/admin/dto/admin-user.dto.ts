import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsBoolean, IsIn, IsOptional, ValidateIf } from 'class-validator';
import { IsNumberInRange } from '@app/common';
import { PageQueryDto } from '../../history/dto/history-query.dto';
import { USER_ROLES, type UserRole } from '../../users/entities/user.entity';
import { microsToUsd } from '../../usage/price-catalog';
import type { AdminUserView } from '../admin-users.service';
import { OptionalText } from './optional-text';
import { PageMetaDto } from './page-meta.dto';

/** Largest per-user quota an admin may set (a safe integer for both databases' `integer`). */
export const MAX_QUOTA_OVERRIDE = 2_000_000_000;
/** Largest per-user budget in USD an admin may set (its micro-dollars stay a safe integer). */
export const MAX_BUDGET_OVERRIDE_USD = 1_000_000;

/** Query of `GET /api/admin/users`. */
export class ListUsersQueryDto extends PageQueryDto {
  @ApiPropertyOptional({
    maxLength: 254,
    example: 'example.com',
    description: 'Only accounts whose e-mail contains this text (case-insensitive, literal).',
  })
  @OptionalText('q', 0, 254)
  q?: string;
}

/** Body of `PATCH /api/admin/users/{user_id}`: at least one field. */
export class UpdateUserDto {
  @ApiPropertyOptional({
    example: false,
    description:
      'false disables the account: its access tokens, refresh tokens and API keys are refused (403) ' +
      'from the next request on every instance, open sockets at their next event, and its refresh ' +
      'tokens are revoked (after re-enabling, the user signs in again). true enables it again.',
  })
  @ValidateIf((body: UpdateUserDto) => body.is_active !== undefined)
  @IsBoolean({ message: 'is_active must be true or false' })
  is_active?: boolean;

  @ApiPropertyOptional({
    enum: USER_ROLES,
    example: 'admin',
    description:
      'Grant (`admin`) or revoke (`user`) the admin role. The last active admin cannot lose it.',
  })
  @ValidateIf((body: UpdateUserDto) => body.role !== undefined)
  @IsIn(USER_ROLES, { message: `role must be one of: ${USER_ROLES.join(', ')}` })
  role?: UserRole;

  @ApiPropertyOptional({
    type: 'integer',
    nullable: true,
    minimum: 1,
    maximum: MAX_QUOTA_OVERRIDE,
    example: 120,
    description:
      "This user's chat requests per minute instead of QUOTA__REQUESTS_PER_MINUTE; null: the default.",
  })
  @IsOptional()
  @IsNumberInRange(1, MAX_QUOTA_OVERRIDE, { integer: true })
  requests_per_minute?: number | null;

  @ApiPropertyOptional({
    type: 'integer',
    nullable: true,
    minimum: 1,
    maximum: MAX_QUOTA_OVERRIDE,
    example: 5_000_000,
    description:
      "This user's tokens per UTC day instead of QUOTA__TOKENS_PER_DAY; null: the default.",
  })
  @IsOptional()
  @IsNumberInRange(1, MAX_QUOTA_OVERRIDE, { integer: true })
  tokens_per_day?: number | null;

  @ApiPropertyOptional({
    type: 'number',
    nullable: true,
    minimum: 0,
    maximum: MAX_BUDGET_OVERRIDE_USD,
    example: 5,
    description:
      "This user's spend per UTC day in USD instead of BUDGET__USD_PER_DAY; 0: no limit; null: the default.",
  })
  @IsOptional()
  @IsNumberInRange(0, MAX_BUDGET_OVERRIDE_USD)
  usd_per_day?: number | null;

  @ApiPropertyOptional({
    type: 'number',
    nullable: true,
    minimum: 0,
    maximum: MAX_BUDGET_OVERRIDE_USD,
    example: 50,
    description:
      "This user's spend per UTC month in USD instead of BUDGET__USD_PER_MONTH; 0: no limit; null: the default.",
  })
  @IsOptional()
  @IsNumberInRange(0, MAX_BUDGET_OVERRIDE_USD)
  usd_per_month?: number | null;
}

class BudgetLimitsDto {
  @ApiProperty({
    example: 5,
    description: 'USD per UTC day in force: the override, else BUDGET__USD_PER_DAY; 0: no limit',
  })
  usd_per_day: number;

  @ApiProperty({ example: 50, description: 'USD per UTC month in force; 0: no limit' })
  usd_per_month: number;

  @ApiProperty({ example: false, description: 'True when an admin set usd_per_day for this user' })
  usd_per_day_overridden: boolean;

  @ApiProperty({ example: false })
  usd_per_month_overridden: boolean;
}

class QuotaLimitsDto {
  @ApiProperty({
    type: 'integer',
    example: 60,
    description: 'In force: the override, else the default',
  })
  requests_per_minute: number;

  @ApiProperty({ type: 'integer', example: 1_000_000 })
  tokens_per_day: number;

  @ApiProperty({
    example: false,
    description: 'True when an admin set requests_per_minute for this user',
  })
  requests_per_minute_overridden: boolean;

  @ApiProperty({ example: false })
  tokens_per_day_overridden: boolean;
}

class UserUsageDto {
  @ApiProperty({ type: 'integer', example: 12, description: 'Conversations stored' })
  sessions: number;

  @ApiProperty({ type: 'integer', example: 240, description: 'Messages stored (both sides)' })
  messages: number;

  @ApiProperty({
    type: 'integer',
    example: 51200,
    description: 'Prompt tokens of the stored replies',
  })
  prompt_tokens: number;

  @ApiProperty({ type: 'integer', example: 20480 })
  completion_tokens: number;

  @ApiProperty({
    type: 'integer',
    example: 3072,
    description: 'Tokens counted today (UTC) against QUOTA__TOKENS_PER_DAY',
  })
  tokens_today: number;

  @ApiProperty({
    example: 1.234567,
    description:
      'Known cost of this UTC month in USD, from the usage ledger (calls without a price are not in it)',
  })
  cost_usd_this_month: number;

  @ApiProperty({
    type: 'integer',
    example: 42,
    description: 'Provider calls of this UTC month, from the usage ledger',
  })
  requests_this_month: number;

  @ApiProperty({
    type: 'integer',
    example: 0,
    description: 'Calls of this UTC month whose cost is unknown (model without a price)',
  })
  cost_unknown_requests_this_month: number;

  @ApiProperty({
    type: 'integer',
    example: 80000,
    description: 'Tokens of this UTC month, from the usage ledger',
  })
  tokens_this_month: number;
}

/** An account as admins see it. */
export class AdminUserDto {
  @ApiProperty({ example: '3f0c8a9e-5b7d-4c1a-9e2f-1a2b3c4d5e6f' })
  id: string;

  @ApiProperty({ example: 'ada@example.com' })
  email: string;

  @ApiProperty({ enum: USER_ROLES, example: 'user' })
  role: UserRole;

  @ApiProperty({ example: true })
  is_active: boolean;

  @ApiProperty({ example: false })
  email_verified: boolean;

  @ApiProperty({ example: '2026-01-31T12:00:00.000Z' })
  created_at: string;

  @ApiProperty({ type: QuotaLimitsDto })
  quota: QuotaLimitsDto;

  @ApiProperty({ type: BudgetLimitsDto })
  budget: BudgetLimitsDto;

  @ApiProperty({
    type: UserUsageDto,
    description: 'From the stored history and the quota counters (costs: the usage ledger)',
  })
  usage: UserUsageDto;
}

export class AdminUserListDto extends PageMetaDto {
  @ApiProperty({ type: [AdminUserDto] })
  items: AdminUserDto[];
}

export function mapAdminUser(view: AdminUserView): AdminUserDto {
  const { user, limits, budget, usage } = view;
  return {
    id: user.id,
    email: user.email,
    role: user.role,
    is_active: user.isActive,
    email_verified: user.emailVerified,
    created_at: user.createdAt.toISOString(),
    quota: {
      requests_per_minute: limits.requestsPerMinute,
      tokens_per_day: limits.tokensPerDay,
      requests_per_minute_overridden: user.requestsPerMinuteLimit !== null,
      tokens_per_day_overridden: user.tokensPerDayLimit !== null,
    },
    budget: {
      usd_per_day: budget.usdPerDay,
      usd_per_month: budget.usdPerMonth,
      usd_per_day_overridden: budget.usdPerDayOverridden,
      usd_per_month_overridden: budget.usdPerMonthOverridden,
    },
    usage: {
      sessions: usage.sessions,
      messages: usage.messages,
      prompt_tokens: usage.promptTokens,
      completion_tokens: usage.completionTokens,
      tokens_today: usage.tokensToday,
      cost_usd_this_month: microsToUsd(usage.month.costMicros),
      requests_this_month: usage.month.requests,
      cost_unknown_requests_this_month: usage.month.costUnknownRequests,
      tokens_this_month: usage.month.promptTokens + usage.month.completionTokens,
    },
  };
}
