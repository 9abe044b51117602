import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsISO8601, IsOptional } from 'class-validator';
import { PageQueryDto } from '../../history/dto/history-query.dto';
import { AUDIT_ACTIONS, type AuditAction } from '../../audit/audit-actions';
import type { AuditLogEntry } from '../../audit/entities/audit-log-entry.entity';
import { OptionalText } from './optional-text';
import { PageMetaDto } from './page-meta.dto';

/** Query of `GET /api/admin/audit`. */
export class AuditQueryDto extends PageQueryDto {
  @ApiPropertyOptional({
    maxLength: 254,
    example: 'ops@example.com',
    description: 'Only entries of this actor: a user id or e-mail (exact)',
  })
  @OptionalText('actor', 1, 254)
  actor?: string;

  @ApiPropertyOptional({ enum: AUDIT_ACTIONS, example: 'user.disabled' })
  @IsOptional()
  @IsIn(AUDIT_ACTIONS, { message: `action must be one of: ${AUDIT_ACTIONS.join(', ')}` })
  action?: AuditAction;

  @ApiPropertyOptional({
    example: '2026-12-01T00:00:00Z',
    description: 'Entries at or after this time (ISO-8601)',
  })
  @IsOptional()
  @IsISO8601({ strict: true }, { message: 'from must be an ISO-8601 date-time' })
  from?: string;

  @ApiPropertyOptional({
    example: '2026-12-02T00:00:00Z',
    description: 'Entries before this time (ISO-8601)',
  })
  @IsOptional()
  @IsISO8601({ strict: true }, { message: 'to must be an ISO-8601 date-time' })
  to?: string;
}

export class AuditEntryDto {
  @ApiProperty({ example: '0b6f1c2e-9a4d-4e8b-8f3a-6c5d4e3b2a19' })
  id: string;

  @ApiProperty({ example: '2026-12-01T14:03:29.120Z' })
  at: string;

  @ApiProperty({
    nullable: true,
    type: String,
    example: '3f0c8a9e-5b7d-4c1a-9e2f-1a2b3c4d5e6f',
    description: 'null: the system, or a client not signed in',
  })
  actor_id: string | null;

  @ApiProperty({ nullable: true, type: String, example: 'ops@example.com' })
  actor_email: string | null;

  @ApiProperty({ enum: AUDIT_ACTIONS, example: 'user.disabled' })
  action: string;

  @ApiProperty({
    nullable: true,
    type: String,
    example: 'user:7d0c6a43-8f0e-4a55-9d8e-2b7e4c1f9a10',
    description: '`kind:id`',
  })
  target: string | null;

  @ApiProperty({
    type: 'object',
    additionalProperties: true,
    nullable: true,
    example: { email: 'ada@example.com' },
  })
  details: Record<string, unknown> | null;

  @ApiProperty({ nullable: true, type: String, example: '203.0.113.7' })
  ip: string | null;
}

export class AuditListDto extends PageMetaDto {
  @ApiProperty({ type: [AuditEntryDto] })
  items: AuditEntryDto[];
}

export function mapAuditEntry(entry: AuditLogEntry): AuditEntryDto {
  return {
    id: entry.id,
    at: entry.at.toISOString(),
    actor_id: entry.actorId,
    actor_email: entry.actorEmail,
    action: entry.action,
    target: entry.target,
    details: entry.details ? (JSON.parse(entry.details) as Record<string, unknown>) : null,
    ip: entry.ip,
  };
}
