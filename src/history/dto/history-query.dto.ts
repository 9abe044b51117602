import { ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsIn, IsOptional, IsString } from 'class-validator';
import { HasCodePointLength, IsNumberInRange, IsWellFormedText } from '@app/common';
import { SESSION_VIEWS, type SessionView } from './history-response.dto';

/** Largest page the history endpoints serve; larger `per_page` values are a 400, not clamped. */
export const MAX_PER_PAGE = 100;
export const DEFAULT_PER_PAGE = 20;
/** Deepest page accepted; beyond it an OFFSET would only burn database time on empty pages. */
export const MAX_PAGE = 1_000_000;

/**
 * Query strings arrive as text: whole decimal numbers become numbers, anything else stays as
 * sent so that validation rejects it with a field message ("1.5", "abc", "", repeated keys).
 */
const toInteger = ({ value }: { value: unknown }): unknown =>
  typeof value === 'string' && /^\d{1,16}$/.test(value) ? Number(value) : value;

/** `page` and `per_page` of a paginated history endpoint. */
export class PageQueryDto {
  @ApiPropertyOptional({ type: 'integer', minimum: 1, maximum: MAX_PAGE, default: 1, example: 1 })
  @IsOptional()
  @Transform(toInteger)
  @IsNumberInRange(1, MAX_PAGE, { integer: true })
  page: number = 1;

  @ApiPropertyOptional({
    type: 'integer',
    minimum: 1,
    maximum: MAX_PER_PAGE,
    default: DEFAULT_PER_PAGE,
    example: DEFAULT_PER_PAGE,
    description: `Items per page, 1 to ${MAX_PER_PAGE}; a larger value is rejected with 400.`,
  })
  @IsOptional()
  @Transform(toInteger)
  @IsNumberInRange(1, MAX_PER_PAGE, { integer: true })
  per_page: number = DEFAULT_PER_PAGE;
}

/** Query of `GET /api/history/{session_id}`. */
export class SessionQueryDto extends PageQueryDto {
  @ApiPropertyOptional({
    enum: SESSION_VIEWS,
    default: 'path',
    example: 'full',
    description:
      '`path` (default): the active branch, from the first message to the active leaf; ' +
      '`full`: every message of every branch, oldest first. Pages are taken from that list.',
  })
  @IsOptional()
  @IsIn(SESSION_VIEWS, { message: 'tree must be one of: path, full' })
  tree: SessionView = 'path';
}

/** Query of `GET /api/history`. */
export class ListHistoryQueryDto extends PageQueryDto {
  @ApiPropertyOptional({
    maxLength: 200,
    example: 'invoice',
    description:
      'Only sessions with a message containing this text (case-insensitive substring; ' +
      '`%`, `_` and other special characters match literally).',
  })
  @IsOptional()
  @IsString({ message: 'q must be a string' })
  @HasCodePointLength(0, 200, { message: 'q must be at most 200 characters' })
  @IsWellFormedText()
  q?: string;
}

export const EXPORT_FORMATS = ['json', 'markdown'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

/** Query of `GET /api/history/{session_id}/export`. */
export class ExportQueryDto {
  @ApiPropertyOptional({ enum: EXPORT_FORMATS, default: 'json', example: 'markdown' })
  @IsOptional()
  @IsIn(EXPORT_FORMATS, { message: 'format must be one of: json, markdown' })
  format: ExportFormat = 'json';
}
