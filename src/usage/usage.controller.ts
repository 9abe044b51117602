import { Controller, Get, Query } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ApiErrorResponse } from '@app/common';
import { ApiKeyScope } from '../api-keys/api-key-scopes';
import type { AuthUser } from '../auth/auth-user';
import { BearerAuth } from '../auth/decorators/bearer-auth.decorator';
import { CurrentUser } from '../auth/decorators/current-user.decorator';
import {
  ApiUsageQueryErrorResponse,
  MAX_USAGE_RANGE_DAYS,
  UsageQueryDto,
  UsageReportDto,
} from './dto/usage.dto';
import { UsageService } from './usage.service';

/** The caller's own usage: tokens, cost and provider calls per day or per model. */
@ApiTags('usage')
@BearerAuth()
@ApiErrorResponse(429, 'Rate limit; see Retry-After')
@ApiKeyScope('usage:read')
@Controller('api/usage')
export class UsageController {
  constructor(private readonly usage: UsageService) {}

  @Get()
  @ApiOperation({
    summary: "The caller's tokens, cost and provider calls per day or per model",
    description:
      `UTC days from \`from\` to \`to\`, both included, at most ${MAX_USAGE_RANGE_DAYS} days. ` +
      'Every provider attempt counts (retries and fallbacks too). Calls of models without a price ' +
      'are counted in `cost_unknown_requests` and left out of `cost_usd`.',
  })
  @ApiOkResponse({ type: UsageReportDto })
  @ApiUsageQueryErrorResponse()
  async report(
    @CurrentUser() user: AuthUser,
    @Query() query: UsageQueryDto,
  ): Promise<UsageReportDto> {
    return this.usage.report(user.id, query);
  }
}
