import {
  applyDecorators,
  Body,
  Controller,
  Delete,
  Get,
  HttpCode,
  Param,
  Patch,
  Query,
} from '@nestjs/common';
import {
  ApiNoContentResponse,
  ApiOkResponse,
  ApiOperation,
  ApiParam,
  ApiTags,
} from '@nestjs/swagger';
import {
  ApiErrorResponse,
  ApiFieldErrorResponse,
  InvalidInputError,
  JsonBodyOnly,
} from '@app/common';
import { AuditLogService } from '../audit/audit-log.service';
import { type AuditContext, RequestAuditContext } from '../audit/audit-context';
import { AdminOnly } from './admin.guard';
import { AdminUsersService, LAST_ADMIN_DETAIL } from './admin-users.service';
import { AuditListDto, AuditQueryDto, mapAuditEntry } from './dto/audit.dto';
import {
  AdminUserDto,
  AdminUserListDto,
  ListUsersQueryDto,
  mapAdminUser,
  UpdateUserDto,
} from './dto/admin-user.dto';
import { mapProviderHealth, ProviderHealthListDto } from './dto/provider-health.dto';
import { ProviderHealthService } from './provider-health.service';
import {
  AdminUsageQueryDto,
  ApiUsageQueryErrorResponse,
  MAX_USAGE_RANGE_DAYS,
  UsageReportDto,
} from '../usage/dto/usage.dto';
import { UsageService } from '../usage/usage.service';

/** The `user_id` path parameter and its 404 and 409 answers, shared by PATCH and DELETE. */
const OneUser = (conflict: string) =>
  applyDecorators(
    ApiParam({ name: 'user_id', example: '3f0c8a9e-5b7d-4c1a-9e2f-1a2b3c4d5e6f' }),
    ApiErrorResponse(404, 'Unknown user', { detail: 'User not found' }),
    ApiErrorResponse(409, conflict, { detail: LAST_ADMIN_DETAIL }),
  );
const UPDATE_FIELDS = [
  'is_active',
  'role',
  'requests_per_minute',
  'tokens_per_day',
  'usd_per_day',
  'usd_per_month',
] as const;

/**
 * `/api/admin/*`: accounts, provider health and the audit log, for admins only (403 for anyone
 * else and for every API key). Every change is recorded in the audit log.
 */
@ApiTags('admin')
@AdminOnly()
@ApiErrorResponse(429, 'Rate limit; see Retry-After')
@Controller('api/admin')
export class AdminController {
  constructor(
    private readonly users: AdminUsersService,
    private readonly providers: ProviderHealthService,
    private readonly audit: AuditLogService,
    private readonly usage: UsageService,
  ) {}

  @Get('users')
  @ApiOperation({
    summary: 'List accounts with their usage',
    description:
      'Newest first; `q` searches e-mails. Each account shows its role, state, quota limits in ' +
      'force, spend budget in force, and usage: stored sessions, messages and tokens, tokens ' +
      "counted today, and this UTC month's calls, tokens and cost from the usage ledger.",
  })
  @ApiOkResponse({ type: AdminUserListDto })
  @ApiErrorResponse(400, 'Invalid page, per_page or q')
  async listUsers(@Query() query: ListUsersQueryDto): Promise<AdminUserListDto> {
    const page = { page: query.page, perPage: query.per_page };
    const { items, total } = await this.users.list(query.q, page);
    return { items: items.map(mapAdminUser), page: query.page, per_page: query.per_page, total };
  }

  @Patch('users/:user_id')
  @JsonBodyOnly()
  @ApiOperation({
    summary: 'Disable or enable an account, change its role, quota limits or spend budget',
    description:
      'Disabling takes effect from the next request on every instance: access tokens, refresh ' +
      'tokens and API keys are refused (403), open sockets at their next event. The last active ' +
      'admin cannot be disabled or demoted (409). `usd_per_day`/`usd_per_month` override the ' +
      'BUDGET__* defaults for this user (the budget check reads them on the next request; null ' +
      'restores the default, 0 lifts the limit). Each change is written to the audit log.',
  })
  @OneUser('The change would leave no active admin')
  @ApiOkResponse({ type: AdminUserDto })
  @ApiFieldErrorResponse(
    'No field, an invalid field or an unknown field',
    'role',
    'role must be one of: user, admin',
  )
  async updateUser(
    @Param('user_id') userId: string,
    @Body() body: UpdateUserDto,
    @RequestAuditContext() context: AuditContext,
  ): Promise<AdminUserDto> {
    if (UPDATE_FIELDS.every((field) => body[field] === undefined)) {
      throw new InvalidInputError(`Give at least one of: ${UPDATE_FIELDS.join(', ')}`);
    }
    const view = await this.users.update(context, userId, {
      isActive: body.is_active,
      role: body.role,
      requestsPerMinute: body.requests_per_minute,
      tokensPerDay: body.tokens_per_day,
      usdPerDay: body.usd_per_day,
      usdPerMonth: body.usd_per_month,
    });
    return mapAdminUser(view);
  }

  @Delete('users/:user_id')
  @HttpCode(204)
  @ApiOperation({
    summary: 'Delete an account and all of its data',
    description:
      'Deletes the account, its chat history (in the configured history store), API keys, refresh ' +
      'and e-mail tokens. The audit log keeps its entries. The last active admin cannot be deleted (409).',
  })
  @OneUser('The last active admin')
  @ApiNoContentResponse({ description: 'Deleted' })
  async deleteUser(
    @Param('user_id') userId: string,
    @RequestAuditContext() context: AuditContext,
  ): Promise<void> {
    await this.users.delete(context, userId);
  }

  @Get('usage')
  @ApiOperation({
    summary: 'Usage and cost across users, per user, model, provider or day',
    description:
      `UTC days from \`from\` (default: the first of this month) to \`to\` (default: today), both ` +
      `included, at most ${MAX_USAGE_RANGE_DAYS} days; validated as on GET /api/usage. Every ` +
      'provider attempt of every user counts, deleted accounts included (group_by=user shows ' +
      'their id without an e-mail). Calls of models without a price are counted in ' +
      '`cost_unknown_requests` and left out of `cost_usd`.',
  })
  @ApiOkResponse({ type: UsageReportDto })
  @ApiUsageQueryErrorResponse()
  async usageReport(@Query() query: AdminUsageQueryDto): Promise<UsageReportDto> {
    const report = await this.usage.reportAll(query);
    if (report.group_by === 'user') {
      const emails = await this.users.emailsOf(report.items.map((item) => item.user!));
      for (const item of report.items) {
        const email = emails.get(item.user!);
        if (email !== undefined) item.email = email;
      }
    }
    return report;
  }

  @Get('providers')
  @ApiOperation({
    summary: 'Provider and key health',
    description:
      'Per configured provider, each key by alias (never the key): circuit state, whether the ' +
      'provider refused it, the cool-down left after a 429, and attempts and errors of the last ' +
      "five minutes. The state is per instance: this answer is the answering instance's view.",
  })
  @ApiOkResponse({ type: ProviderHealthListDto })
  providerHealth(): ProviderHealthListDto {
    return mapProviderHealth(this.providers.snapshot(), this.providers.windowSeconds);
  }

  @Get('audit')
  @ApiOperation({
    summary: 'Read the audit log',
    description:
      'Admin actions and security events (login lock, refresh-token reuse, API-key revocation), ' +
      'newest first, filtered by actor (id or e-mail), action and time range. The log is ' +
      'append-only: there is no route, and no code path, that changes or deletes an entry.',
  })
  @ApiOkResponse({ type: AuditListDto })
  @ApiFieldErrorResponse(
    'Invalid filter or page, or `from` later than `to`',
    'from',
    'from must be an ISO-8601 date-time',
  )
  async auditLog(@Query() query: AuditQueryDto): Promise<AuditListDto> {
    const from = query.from ? new Date(query.from) : undefined;
    const to = query.to ? new Date(query.to) : undefined;
    if (from && to && from.getTime() > to.getTime()) {
      throw new InvalidInputError('from must not be later than to');
    }
    const { items, total } = await this.audit.list(
      { actor: query.actor, action: query.action, from, to },
      { page: query.page, perPage: query.per_page },
    );
    return {
      items: items.map(mapAuditEntry),
      page: query.page,
      per_page: query.per_page,
      total,
    };
  }
}
