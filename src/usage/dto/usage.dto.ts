import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsOptional, Matches } from 'class-validator';

/** Longest range one GET /api/usage may cover, in days (both ends included). */
export const MAX_USAGE_RANGE_DAYS = 366;
export const USAGE_GROUPINGS = ['day', 'model'] as const;
export type UsageGrouping = (typeof USAGE_GROUPINGS)[number];

const DAY = /^\d{4}-\d{2}-\d{2}$/;

/** Query of `GET /api/usage`; dates are UTC days, both ends included. */
export class UsageQueryDto {
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

  @ApiPropertyOptional({ enum: USAGE_GROUPINGS, default: 'day' })
  @IsOptional()
  @IsIn(USAGE_GROUPINGS, { message: 'group_by must be one of: day, model' })
  group_by?: UsageGrouping;
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
}

export class UsageReportDto {
  @ApiProperty({ example: '2026-11-01' })
  from: string;

  @ApiProperty({ example: '2026-11-30' })
  to: string;

  @ApiProperty({ enum: USAGE_GROUPINGS })
  group_by: UsageGrouping;

  @ApiProperty({ type: UsageFiguresDto })
  totals: UsageFiguresDto;

  @ApiProperty({ type: [UsageItemDto], description: 'Days or models with usage, in order.' })
  items: UsageItemDto[];
}
