import { randomUUID } from 'node:crypto';
import { Injectable, Logger } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { type FindOptionsWhere, LessThan, MoreThanOrEqual, Repository, And } from 'typeorm';
import type { AuditAction } from './audit-actions';
import type { AuditContext } from './audit-context';
import { AuditLogEntry } from './entities/audit-log-entry.entity';

/** What happened, to what, with which specifics (never a secret). */
export interface AuditEvent {
  action: AuditAction;
  target?: string | null;
  details?: Record<string, unknown>;
}

export interface AuditFilter {
  /** An actor's user id or e-mail. */
  actor?: string;
  action?: AuditAction;
  /** Inclusive lower bound of `at`. */
  from?: Date;
  /** Exclusive upper bound of `at`. */
  to?: Date;
}

/**
 * Writes and reads the audit log. Append-only: this class only inserts and reads, and the
 * database refuses UPDATE and DELETE on the table (see AuditLogEntry).
 */
@Injectable()
export class AuditLogService {
  private readonly logger = new Logger(AuditLogService.name);

  constructor(
    @InjectRepository(AuditLogEntry) private readonly entries: Repository<AuditLogEntry>,
  ) {}

  /**
   * Records an admin action. Throws when the entry cannot be written, so the admin sees the
   * failure rather than an action that left no trace.
   */
  async record(context: AuditContext, event: AuditEvent): Promise<void> {
    await this.entries.insert({
      id: randomUUID(),
      at: new Date(),
      actorId: context.actor?.id ?? null,
      actorEmail: context.actor?.email ?? null,
      action: event.action,
      target: event.target ?? null,
      details: event.details ? JSON.stringify(event.details) : null,
      ip: context.ip,
    });
  }

  /**
   * Records a security event on a path that must keep working (login, refresh): a failed write
   * is logged loudly instead of failing the request.
   */
  async recordSecurityEvent(context: AuditContext, event: AuditEvent): Promise<void> {
    try {
      await this.record(context, event);
    } catch (error) {
      this.logger.error({ err: error, action: event.action }, 'Could not write the audit log');
    }
  }

  /** Newest first, `perPage` per page, with the total matching the filter. */
  async list(
    filter: AuditFilter,
    page: { page: number; perPage: number },
  ): Promise<{ items: AuditLogEntry[]; total: number }> {
    const where: FindOptionsWhere<AuditLogEntry> = {};
    if (filter.action) where.action = filter.action;
    if (filter.from && filter.to) where.at = And(MoreThanOrEqual(filter.from), LessThan(filter.to));
    else if (filter.from) where.at = MoreThanOrEqual(filter.from);
    else if (filter.to) where.at = LessThan(filter.to);
    const actor = filter.actor?.trim().toLowerCase();
    const scoped = actor
      ? [
          { ...where, actorId: actor },
          { ...where, actorEmail: actor },
        ]
      : where;
    const [items, total] = await this.entries.findAndCount({
      where: scoped,
      order: { at: 'DESC', id: 'DESC' },
      skip: (page.page - 1) * page.perPage,
      take: page.perPage,
    });
    return { items, total };
  }
}
