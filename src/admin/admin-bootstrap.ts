import { Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { In, Repository } from 'typeorm';
import { AppConfig } from '@app/config';
import { AuditLogService } from '../audit/audit-log.service';
import { SYSTEM_AUDIT_CONTEXT } from '../audit/audit-context';
import { User } from '../users/entities/user.entity';

/**
 * ADMIN_EMAILS at start-up: existing accounts it lists become admins (accounts registered later
 * get the role at registration, UsersService.create). Never takes the role away: an admin granted
 * through the API stays one, and removing an address from the list does not demote it.
 */
@Injectable()
export class AdminBootstrap implements OnApplicationBootstrap {
  private readonly logger = new Logger(AdminBootstrap.name);

  constructor(
    private readonly config: AppConfig,
    @InjectRepository(User) private readonly users: Repository<User>,
    private readonly audit: AuditLogService,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    const emails = this.config.admin.emails;
    if (emails.length === 0) return;
    const pending = await this.users.find({
      where: { email: In(emails), role: 'user' },
      select: { id: true, email: true },
    });
    for (const user of pending) {
      // Conditional per row: of several instances starting together, one promotes and audits.
      const result = await this.users.update({ id: user.id, role: 'user' }, { role: 'admin' });
      if (!result.affected) continue;
      await this.audit.record(SYSTEM_AUDIT_CONTEXT, {
        action: 'admin.bootstrap',
        target: `user:${user.id}`,
        details: { email: user.email, source: 'ADMIN_EMAILS' },
      });
      this.logger.log({ userId: user.id }, `ADMIN_EMAILS made ${user.email} an admin`);
    }
  }
}
