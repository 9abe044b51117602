import { Body, Controller, HttpCode, Post, UseGuards } from '@nestjs/common';
import {
  ApiAcceptedResponse,
  ApiBearerAuth,
  ApiBody,
  ApiConsumes,
  ApiCreatedResponse,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import { type AuditContext, RequestAuditContext } from '../audit/audit-context';
import { AuthRateLimit } from '../throttling/auth-rate-limit.decorator';
import { mapUser, UserResponseDto } from '../users/dto/user-response.dto';
import type { AuthUser } from './auth-user';
import { AuthService, TokenPair } from './auth.service';
import { CurrentUser } from './decorators/current-user.decorator';
import {
  AcceptedDto,
  mapRegisteredUser,
  RegisteredUserDto,
  TokenPairDto,
} from './dto/auth-response.dto';
import {
  EmailTokenDto,
  LoginDto,
  loginEmail,
  LogoutDto,
  PasswordResetConfirmDto,
  PasswordResetRequestDto,
  RefreshDto,
  RegisterDto,
} from './dto/auth.dto';
import { ApiErrorResponse } from '@app/common';
import { JwtAuthGuard } from './guards/jwt-auth.guard';

const MAIL_DISABLED_NOTE =
  ' When the server has no SMTP settings (`EMAIL__*`), e-mail is disabled: the request is still ' +
  'answered 202 but no e-mail is sent (the server logs this once at start-up).';
const AUTH_LIMIT_NOTE =
  ' Limited per client IP (`RATE_LIMIT__AUTH_PER_MINUTE`, shared by login, register, refresh and ' +
  'password reset); over it: 429 with `Retry-After`.';

@ApiTags('auth')
@ApiErrorResponse(400, 'Malformed body, invalid field or unknown field')
@ApiErrorResponse(429, 'Rate limit; see Retry-After')
@Controller('api/auth')
export class AuthController {
  constructor(private readonly auth: AuthService) {}

  @Post('register')
  @AuthRateLimit()
  @ApiOperation({
    summary: 'Create an account',
    description: 'E-mail is trimmed and lower-cased; password 8–128 characters.' + AUTH_LIMIT_NOTE,
  })
  @ApiCreatedResponse({ type: RegisteredUserDto })
  @ApiErrorResponse(409, 'E-mail already registered', {
    detail: 'An account with this e-mail already exists',
  })
  async register(@Body() dto: RegisterDto): Promise<RegisteredUserDto> {
    return mapRegisteredUser(await this.auth.register(dto.email, dto.password));
  }

  @Post('login')
  @HttpCode(200)
  @AuthRateLimit()
  @ApiConsumes('application/x-www-form-urlencoded', 'application/json')
  @ApiBody({ type: LoginDto })
  @ApiOperation({
    summary: 'Log in (OAuth2 password form or JSON)',
    description:
      'Form: `username=<email>&password=...` (OAuth2 password flow). JSON: `{"email", "password"}` ' +
      'or `{"username", "password"}`. Wrong e-mail and wrong password give the same 401. After ' +
      '`RATE_LIMIT__LOGIN_FAILURES_PER_ACCOUNT` failures within 15 minutes the account answers 429 ' +
      'until the window ends.' +
      AUTH_LIMIT_NOTE,
  })
  @ApiOkResponse({ type: TokenPairDto })
  @ApiErrorResponse(401, 'Wrong e-mail or password', { detail: 'Incorrect email or password' })
  @ApiErrorResponse(403, 'The account is disabled')
  async login(
    @Body() dto: LoginDto,
    @RequestAuditContext() context: AuditContext,
  ): Promise<TokenPairDto> {
    return toTokenPairDto(await this.auth.login(loginEmail(dto), dto.password, context));
  }

  @Post('refresh')
  @HttpCode(200)
  @AuthRateLimit()
  @ApiOperation({
    summary: 'Exchange a refresh token for a new token pair',
    description:
      'Refresh tokens are single use. Presenting one that was already exchanged revokes every ' +
      'token of that login (401): sign in again.' +
      AUTH_LIMIT_NOTE,
  })
  @ApiOkResponse({ type: TokenPairDto })
  @ApiErrorResponse(401, 'Unknown, expired, revoked or reused refresh token', {
    detail: 'Invalid refresh token',
  })
  @ApiErrorResponse(403, 'The account is disabled')
  async refresh(
    @Body() dto: RefreshDto,
    @RequestAuditContext() context: AuditContext,
  ): Promise<TokenPairDto> {
    return toTokenPairDto(await this.auth.refresh(dto.refresh_token, context));
  }

  @Post('logout')
  @HttpCode(204)
  @UseGuards(JwtAuthGuard)
  @ApiBearerAuth('bearer')
  @ApiOperation({
    summary: 'Log out',
    description:
      'Revokes the given refresh token and every token rotated from the same login; ' +
      '`{"all": true}` revokes all of your refresh tokens (every device). Access tokens stay ' +
      'valid until they expire (`expires_in`).',
  })
  // Both fields are optional, and so is the body: no body revokes nothing but still answers 204.
  @ApiBody({ type: LogoutDto, required: false })
  @ApiNoContentResponse({ description: 'Logged out' })
  @ApiErrorResponse(401, 'Missing or invalid token')
  @ApiErrorResponse(403, 'The account is disabled')
  async logout(@CurrentUser() user: AuthUser, @Body() dto: LogoutDto): Promise<void> {
    await this.auth.logout(user.id, { refreshToken: dto.refresh_token, all: dto.all });
  }

  @Post('verify-email/request')
  @HttpCode(202)
  @UseGuards(JwtAuthGuard)
  @ApiBearerAuth('bearer')
  @ApiOperation({
    summary: 'E-mail me a verification link',
    description:
      'Sends `<PUBLIC_BASE_URL>/verify-email?token=...`; the token is single use and expires after ' +
      '`SECURITY__EMAIL_TOKEN_EXPIRE_MINUTES`.' +
      MAIL_DISABLED_NOTE,
  })
  @ApiAcceptedResponse({ type: AcceptedDto })
  @ApiErrorResponse(401, 'Missing or invalid token')
  @ApiErrorResponse(403, 'The account is disabled')
  @ApiErrorResponse(503, 'The SMTP server could not be reached', {
    detail: 'Could not send the e-mail; try again later',
  })
  async requestVerification(@CurrentUser() user: AuthUser): Promise<AcceptedDto> {
    const outcome = await this.auth.requestEmailVerification(user.id);
    const message = {
      sent: 'Verification e-mail sent',
      already_verified: 'E-mail address is already verified',
      mail_disabled: 'E-mail is disabled on this server; no e-mail was sent',
    }[outcome];
    return { message };
  }

  @Post('verify-email/confirm')
  @HttpCode(200)
  @ApiOperation({ summary: 'Confirm an e-mail address with the token from the link' })
  @ApiOkResponse({ type: UserResponseDto, description: 'The account, now verified' })
  async confirmVerification(@Body() dto: EmailTokenDto): Promise<UserResponseDto> {
    return mapUser(await this.auth.confirmEmailVerification(dto.token));
  }

  @Post('password-reset/request')
  @HttpCode(202)
  @AuthRateLimit()
  @ApiOperation({
    summary: 'E-mail me a password-reset link',
    description:
      'Always 202, whether or not the address has an account. If it has, an e-mail with ' +
      '`<PUBLIC_BASE_URL>/reset-password?token=...` is sent.' +
      MAIL_DISABLED_NOTE +
      AUTH_LIMIT_NOTE,
  })
  @ApiAcceptedResponse({ type: AcceptedDto })
  requestPasswordReset(@Body() dto: PasswordResetRequestDto): AcceptedDto {
    this.auth.requestPasswordReset(dto.email);
    return { message: 'If the address belongs to an account, a reset link is on its way' };
  }

  @Post('password-reset/confirm')
  @HttpCode(204)
  @AuthRateLimit()
  @ApiOperation({
    summary: 'Set a new password with the token from the reset link',
    description:
      'Also revokes all refresh tokens of the account (every device signs in again).' +
      AUTH_LIMIT_NOTE,
  })
  @ApiNoContentResponse({ description: 'Password changed' })
  async confirmPasswordReset(@Body() dto: PasswordResetConfirmDto): Promise<void> {
    await this.auth.confirmPasswordReset(dto.token, dto.new_password);
  }
}

function toTokenPairDto(pair: TokenPair): TokenPairDto {
  return {
    access_token: pair.accessToken,
    token_type: 'bearer',
    expires_in: pair.expiresIn,
    refresh_token: pair.refreshToken,
  };
}
