import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { In, Not, Repository } from 'typeorm';
import { ConflictError, InvalidInputError, NotFoundError } from '@app/common';
import { AppConfig, type BudgetConfig, type QuotaConfig } from '@app/config';
import { AuditLogService, type AuditEvent } from '../audit/audit-log.service';
import type { AuditContext } from '../audit/audit-context';
import { ActiveUserCache } from '../auth/active-user-cache';
import { RefreshTokenService } from '../auth/refresh-token.service';
import { HistoryService } from '../history/history.service';
import { escapeLikePattern } from '../history/persistence/sql-history.store';
import { QuotaService } from '../providers/quota.service';
import { User, type UserRole } from '../users/entities/user.entity';
import { UsersService } from '../users/users.service';
import { BudgetOverridesService, type UserBudgetLimits } from '../usage/budget/budget-overrides';
import { isoDay, UsageService, type UserUsageTotals } from '../usage/usage.service';

/** What the admin user list shows of one account. */
export interface AdminUserView {
  user: User;
  /** The quota limits in force for this user. */
  limits: Pick<QuotaConfig, 'requestsPerMinute' | 'tokensPerDay'>;
  /** The spend limits in force (USD; 0 = none) and whether an admin set them. */
  budget: BudgetConfigInForce;
  usage: {
    sessions: number;
    messages: number;
    promptTokens: number;
    completionTokens: number;
    tokensToday: number;
    /** This UTC month's provider calls, tokens and cost from the usage ledger. */
    month: Pick<
      UserUsageTotals,
      'requests' | 'promptTokens' | 'completionTokens' | 'costMicros' | 'costUnknownRequests'
    >;
  };
}

export interface BudgetConfigInForce extends Pick<BudgetConfig, 'usdPerDay' | 'usdPerMonth'> {
  usdPerDayOverridden: boolean;
  usdPerMonthOverridden: boolean;
}

/** A change to an account; undefined fields stay, a null quota goes back to the default. */
export interface UserChange {
  isActive?: boolean;
  role?: UserRole;
  requestsPerMinute?: number | null;
  tokensPerDay?: number | null;
  usdPerDay?: number | null;
  usdPerMonth?: number | null;
}

/** The 409 of a change or deletion that would leave no active admin. */
export const LAST_ADMIN_DETAIL =
  'This is the last active admin: grant the role to another account first';

const NO_HISTORY = { sessions: 0, messages: 0, promptTokens: 0, completionTokens: 0 };
const NO_MONTH_USAGE = {
  requests: 0,
  promptTokens: 0,
  completionTokens: 0,
  costMicros: 0,
  costUnknownRequests: 0,
};

/**
 * Account administration: listing with usage, disabling, roles, quota overrides, deletion. Every
 * change is written to the audit log. There is always at least one active admin: a change or a
 * deletion that would leave none is refused (409), so the service can never lock itself out.
 */
@Injectable()
export class AdminUsersService {
  constructor(
    @InjectRepository(User) private readonly users: Repository<User>,
    private readonly accounts: UsersService,
    private readonly history: HistoryService,
    private readonly quota: QuotaService,
    private readonly refreshTokens: RefreshTokenService,
    private readonly audit: AuditLogService,
    private readonly budgets: BudgetOverridesService,
    private readonly usage: UsageService,
    private readonly activeUsers: ActiveUserCache,
    private readonly config: AppConfig,
  ) {}

  /** Accounts newest first, optionally only those whose e-mail contains `query`. */
  async list(
    query: string | undefined,
    page: { page: number; perPage: number },
  ): Promise<{ items: AdminUserView[]; total: number }> {
    const search = query?.trim().toLowerCase();
    const builder = this.users.createQueryBuilder('u');
    if (search) {
      builder.where("u.email LIKE :pattern ESCAPE '\\'", {
        pattern: `%${escapeLikePattern(search)}%`,
      });
    }
    const [users, total] = await builder
      .orderBy('u.created_at', 'DESC')
      .addOrderBy('u.id', 'DESC')
      .skip((page.page - 1) * page.perPage)
      .take(page.perPage)
      .getManyAndCount();
    return { items: await this.views(users), total };
  }

  /** Applies `change` to the account and audits each part of it; 404 for an unknown id. */
  async update(context: AuditContext, userId: string, change: UserChange): Promise<AdminUserView> {
    const user = await this.find(userId);
    const events: AuditEvent[] = [];
    const target = `user:${user.id}`;
    const patch: Partial<User> = {};
    if (change.isActive !== undefined && change.isActive !== user.isActive) {
      if (!change.isActive) await this.assertAnotherActiveAdmin(user);
      patch.isActive = change.isActive;
      events.push({
        action: change.isActive ? 'user.enabled' : 'user.disabled',
        target,
        details: { email: user.email },
      });
    }
    if (change.role !== undefined && change.role !== user.role) {
      if (change.role !== 'admin') await this.assertAnotherActiveAdmin(user);
      patch.role = change.role;
      events.push({
        action: 'user.role_changed',
        target,
        details: { email: user.email, from: user.role, to: change.role },
      });
    }
    const quota: Record<string, { from: number | null; to: number | null }> = {};
    if (change.requestsPerMinute !== undefined) {
      quota.requests_per_minute = {
        from: user.requestsPerMinuteLimit,
        to: change.requestsPerMinute,
      };
      patch.requestsPerMinuteLimit = change.requestsPerMinute;
    }
    if (change.tokensPerDay !== undefined) {
      quota.tokens_per_day = { from: user.tokensPerDayLimit, to: change.tokensPerDay };
      patch.tokensPerDayLimit = change.tokensPerDay;
    }
    const budgetChange = await this.changeBudget(user.id, change);
    Object.assign(quota, budgetChange);
    if (Object.keys(quota).length > 0) {
      events.push({
        action: 'user.quota_changed',
        target,
        details: { email: user.email, ...quota },
      });
    }
    if (Object.keys(patch).length > 0) {
      await this.users.update({ id: user.id }, patch);
      // This instance applies it from the next request on; the others on the trigger's notification.
      this.activeUsers.forget(user.id);
      Object.assign(user, patch);
    }
    if (patch.isActive === false) {
      // The tokens are refused while the account is disabled anyway; revoking them means that
      // enabling it again does not bring old sessions back: the user signs in again.
      await this.refreshTokens.revokeAllForUser(user.id);
    }
    for (const event of events) await this.audit.record(context, event);
    return (await this.views([user]))[0];
  }

  /** Deletes the account with its history (in whichever store), keys and tokens; audited. */
  async delete(context: AuditContext, userId: string): Promise<void> {
    const user = await this.find(userId);
    await this.assertAnotherActiveAdmin(user);
    await this.accounts.deleteAccount(user.id);
    await this.audit.record(context, {
      action: 'user.deleted',
      target: `user:${user.id}`,
      details: { email: user.email, role: user.role },
    });
  }

  /**
   * Stores the budget part of `change` (null = back to the default; both null removes the
   * override) and returns what changed, for the audit entry.
   */
  private async changeBudget(
    userId: string,
    change: UserChange,
  ): Promise<Record<string, { from: number | null; to: number | null }>> {
    if (change.usdPerDay === undefined && change.usdPerMonth === undefined) return {};
    const before: UserBudgetLimits = (await this.budgets.find(userId)) ?? {
      usdPerDay: null,
      usdPerMonth: null,
    };
    const after: UserBudgetLimits = {
      usdPerDay: change.usdPerDay === undefined ? before.usdPerDay : change.usdPerDay,
      usdPerMonth: change.usdPerMonth === undefined ? before.usdPerMonth : change.usdPerMonth,
    };
    if (after.usdPerDay === null && after.usdPerMonth === null) {
      await this.budgets.clear(userId);
    } else {
      await this.budgets.set(userId, after);
    }
    const changed: Record<string, { from: number | null; to: number | null }> = {};
    if (change.usdPerDay !== undefined) {
      changed.usd_per_day = { from: before.usdPerDay, to: after.usdPerDay };
    }
    if (change.usdPerMonth !== undefined) {
      changed.usd_per_month = { from: before.usdPerMonth, to: after.usdPerMonth };
    }
    return changed;
  }

  /** The e-mails of the given accounts that still exist, by id. */
  async emailsOf(userIds: string[]): Promise<Map<string, string>> {
    if (userIds.length === 0) return new Map();
    const users = await this.users.find({
      select: { id: true, email: true },
      where: { id: In(userIds) },
    });
    return new Map(users.map((user) => [user.id, user.email]));
  }

  private async find(userId: string): Promise<User> {
    if (!userId) throw new InvalidInputError('user_id is required');
    const user = await this.users.findOneBy({ id: userId.toLowerCase() });
    if (!user) throw new NotFoundError('User not found');
    return user;
  }

  /** 409 when `user` is an active admin and no other active admin exists. */
  private async assertAnotherActiveAdmin(user: User): Promise<void> {
    if (user.role !== 'admin' || !user.isActive) return;
    const others = await this.users.countBy({ role: 'admin', isActive: true, id: Not(user.id) });
    if (others === 0) {
      throw new ConflictError(LAST_ADMIN_DETAIL);
    }
  }

  private async views(users: User[]): Promise<AdminUserView[]> {
    const ids = users.map((user) => user.id);
    const today = isoDay(new Date());
    const [history, tokensToday, overrides, month] = await Promise.all([
      this.history.usageByUser(ids),
      Promise.all(ids.map((id) => this.quota.tokensUsedToday(id))),
      Promise.all(ids.map((id) => this.budgets.find(id))),
      this.usage.totalsByUser(`${today.slice(0, 7)}-01`, today, ids),
    ]);
    const monthByUser = new Map(month.map((totals) => [totals.userId, totals]));
    const defaults = this.quota.defaultLimits;
    const budgetDefaults = this.config.budget;
    return users.map((user, index) => ({
      user,
      limits: {
        requestsPerMinute: user.requestsPerMinuteLimit ?? defaults.requestsPerMinute,
        tokensPerDay: user.tokensPerDayLimit ?? defaults.tokensPerDay,
      },
      budget: {
        usdPerDay: overrides[index]?.usdPerDay ?? budgetDefaults.usdPerDay,
        usdPerMonth: overrides[index]?.usdPerMonth ?? budgetDefaults.usdPerMonth,
        usdPerDayOverridden: (overrides[index]?.usdPerDay ?? null) !== null,
        usdPerMonthOverridden: (overrides[index]?.usdPerMonth ?? null) !== null,
      },
      usage: {
        ...(history.get(user.id) ?? NO_HISTORY),
        tokensToday: tokensToday[index],
        month: monthByUser.get(user.id) ?? NO_MONTH_USAGE,
      },
    }));
  }
}
