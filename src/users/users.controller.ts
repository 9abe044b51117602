import { Controller, Delete, Get, HttpCode } from '@nestjs/common';
import { ApiNoContentResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ApiErrorResponse, NotFoundError } from '@app/common';
import type { AuthUser } from '../auth/auth-user';
import { BearerAuth } from '../auth/decorators/bearer-auth.decorator';
import { CurrentUser } from '../auth/decorators/current-user.decorator';
import { mapUser, UserResponseDto } from './dto/user-response.dto';
import { UsersService } from './users.service';

@ApiTags('users')
@BearerAuth()
@ApiErrorResponse(403, 'The account is disabled')
@ApiErrorResponse(429, 'Rate limit; see Retry-After')
@Controller('api/users')
export class UsersController {
  constructor(private readonly users: UsersService) {}

  @Get('me')
  @ApiOperation({ summary: 'The current account' })
  @ApiOkResponse({ type: UserResponseDto })
  async me(@CurrentUser() caller: AuthUser): Promise<UserResponseDto> {
    const user = await this.users.findById(caller.id);
    if (!user) throw new NotFoundError('Account not found');
    return mapUser(user);
  }

  @Delete('me')
  @HttpCode(204)
  @ApiOperation({
    summary: 'Delete the current account',
    description:
      'Deletes the account, its refresh and e-mail tokens and all of its chat history. ' +
      'Access tokens issued before stop working immediately (401).',
  })
  @ApiNoContentResponse({ description: 'Deleted' })
  async deleteMe(@CurrentUser() caller: AuthUser): Promise<void> {
    await this.users.deleteAccount(caller.id);
  }
}
