import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsOptional, Matches } from 'class-validator';
import { ApiErrorResponse } from '@app/common';

/** Longest range one GET /api/usage may cover, in days (both ends included). */
export const MAX_USAGE_RANGE_DAYS = 366;
export const USAGE_GROUPINGS = ['day', 'model'] as const;
export type UsageGrouping = (typeof USAGE_GROUPINGS)[number];
/** What the admin report across users may be grouped by. */
export const ADMIN_USAGE_GROUPINGS = ['user', 'model', 'provider', 'day'] as const;
export type AdminUsageGrouping = (typeof ADMIN_USAGE_GROUPINGS)[number];

const DAY = /^\d{4}-\d{2}-\d{2}$/;

/** The documented 400 of a usage report's query (bad dates, a range too long, unknown fields). */
export const ApiUsageQueryErrorResponse = () =>
  ApiErrorResponse(400, 'Bad date, from after to, range too long, or an unknown parameter', {
    detail: 'from must not be after to',
    errors: [{ field: 'from', message: 'must not be after to' }],
  });

/** The date range of a usage report; UTC days, both ends included. */
export class UsageRangeQueryDto {
  @ApiPropertyOptional({
    format: 'date',
    example: '2026-11-01',
    description: 'First UTC day (YYYY-MM-DD); default the first day of the current month.',
  })
  @IsOptional()
  @Matches(DAY, { message: 'from must be a date YYYY-MM-DD' })
  from?: string;

  @ApiPropertyOptional({
    format: 'date',
    example: '2026-11-30',
    description: `Last UTC day, included (YYYY-MM-DD); default today. At most ${MAX_USAGE_RANGE_DAYS} days after from.`,
  })
  @IsOptional()
  @Matches(DAY, { message: 'to must be a date YYYY-MM-DD' })
  to?: string;
}

/** Query of `GET /api/usage`. */
export class UsageQueryDto extends UsageRangeQueryDto {
  @ApiPropertyOptional({ enum: USAGE_GROUPINGS, default: 'day' })
  @IsOptional()
  @IsIn(USAGE_GROUPINGS, { message: `group_by must be one of: ${USAGE_GROUPINGS.join(', ')}` })
  group_by?: UsageGrouping;
}

/** Query of `GET /api/admin/usage`: the same range, grouped across users. */
export class AdminUsageQueryDto extends UsageRangeQueryDto {
  @ApiPropertyOptional({ enum: ADMIN_USAGE_GROUPINGS, default: 'user' })
  @IsOptional()
  @IsIn(ADMIN_USAGE_GROUPINGS, {
    message: `group_by must be one of: ${ADMIN_USAGE_GROUPINGS.join(', ')}`,
  })
  group_by?: AdminUsageGrouping;
}

/** Usage summed over a day, a model or the whole range. */
export class UsageFiguresDto {
  @ApiProperty({ description: 'Provider calls (each retry and fallback attempt counts).' })
  requests: number;

  @ApiProperty({ description: 'Calls that failed, timed out or were aborted.' })
  failed_requests: number;

  @ApiProperty()
  prompt_tokens: number;

  @ApiProperty()
  completion_tokens: number;

  @ApiProperty({
    description: 'Prompt tokens served from the provider cache (part of prompt_tokens).',
  })
  cached_tokens: number;

  @ApiProperty({ description: 'prompt_tokens + completion_tokens.' })
  tokens: number;

  @ApiProperty({
    example: 0.012345,
    description:
      'Known cost in USD (exact to the micro-dollar); calls without a price are not in it.',
  })
  cost_usd: number;

  @ApiProperty({ description: 'Calls whose cost is unknown (the model has no price).' })
  cost_unknown_requests: number;
}

export class UsageItemDto extends UsageFiguresDto {
  @ApiPropertyOptional({ example: '2026-11-05', description: 'With group_by=day.' })
  day?: string;

  @ApiPropertyOptional({
    example: 'groq/llama-3.1-8b-instant',
    description: 'With group_by=model.',
  })
  model?: string;

  @ApiPropertyOptional({ example: 'groq', description: 'With group_by=provider (admin report).' })
  provider?: string;

  @ApiPropertyOptional({
    example: '3f0c8a9e-5b7d-4c1a-9e2f-1a2b3c4d5e6f',
    description: 'With group_by=user (admin report): the user id.',
  })
  user?: string;

  @ApiPropertyOptional({
    example: 'ada@example.com',
    description: 'With group_by=user: the e-mail, absent when the account was deleted.',
  })
  email?: string;
}

export class UsageReportDto {
  @ApiProperty({ example: '2026-11-01' })
  from: string;

  @ApiProperty({ example: '2026-11-30' })
  to: string;

  @ApiProperty({ enum: ADMIN_USAGE_GROUPINGS, description: 'day or model on /api/usage' })
  group_by: AdminUsageGrouping;

  @ApiProperty({ type: UsageFiguresDto })
  totals: UsageFiguresDto;

  @ApiProperty({ type: [UsageItemDto], description: 'Days or models with usage, in order.' })
  items: UsageItemDto[];
}
