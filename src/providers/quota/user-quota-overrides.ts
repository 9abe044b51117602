import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import type { QuotaConfig } from '@app/config';
import { User } from '../../users/entities/user.entity';
import { driverSql } from '../../database/driver-sql';

/** A user's own quota limits where an admin set them; absent fields use the configured default. */
export type QuotaOverrides = Partial<QuotaConfig>;

/**
 * Reads the per-user quota overrides an admin set (`PATCH /api/admin/users/{id}`) from the users
 * row, on every check, so a change applies on every instance from the next request.
 */
@Injectable()
export class UserQuotaOverrides {
  private readonly overridesSql: string;

  constructor(@InjectRepository(User) private readonly users: Repository<User>) {
    this.overridesSql = driverSql(
      users.manager.connection,
      'SELECT requests_per_minute_limit, tokens_per_day_limit FROM users WHERE id = ?',
    );
  }

  async overridesFor(userId: string): Promise<QuotaOverrides> {
    // A plain indexed SELECT: it runs before every chat request (see AccessTokenService).
    const rows = await this.users.query<
      { requests_per_minute_limit: number | null; tokens_per_day_limit: number | null }[]
    >(this.overridesSql, [userId]);
    const overrides: QuotaOverrides = {};
    const requestsPerMinute = rows[0]?.requests_per_minute_limit ?? null;
    const tokensPerDay = rows[0]?.tokens_per_day_limit ?? null;
    if (requestsPerMinute !== null) overrides.requestsPerMinute = Number(requestsPerMinute);
    if (tokensPerDay !== null) overrides.tokensPerDay = Number(tokensPerDay);
    return overrides;
  }
}
