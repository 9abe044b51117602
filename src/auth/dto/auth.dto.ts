import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Equals, IsBoolean, IsOptional, ValidateIf } from 'class-validator';
import { InvalidInputError, IsWellFormedText } from '@app/common';
import { IsEmailAddress, IsStringOfLength, MAX_EMAIL_LENGTH, NormalizeEmail } from './validators';

export const PASSWORD_MIN = 8;
export const PASSWORD_MAX = 128;
/** Raw opaque tokens are 43 characters; anything much longer is not one of ours. */
const TOKEN_MAX = 512;
/** The OpenAPI rules of an e-mail field (it is trimmed and lower-cased before they apply). */
const EMAIL_FORMAT = { format: 'email', maxLength: MAX_EMAIL_LENGTH } as const;
const TOKEN_LENGTH = { minLength: 1, maxLength: TOKEN_MAX } as const;

export class RegisterDto {
  @ApiProperty({
    example: 'ada@example.com',
    ...EMAIL_FORMAT,
    description: 'Trimmed and lower-cased before it is stored',
  })
  @NormalizeEmail()
  @IsEmailAddress()
  email: string;

  @ApiProperty({
    example: 'correct horse battery staple',
    minLength: PASSWORD_MIN,
    maxLength: PASSWORD_MAX,
  })
  @IsStringOfLength(PASSWORD_MIN, PASSWORD_MAX)
  @IsWellFormedText()
  password: string;
}

/**
 * Login as JSON (`{email, password}` or `{username, password}`) or as an OAuth2 password form
 * (`username`, `password`, optional `grant_type=password`, `scope`, `client_id`, `client_secret`).
 */
export class LoginDto {
  @ApiPropertyOptional({
    example: 'ada@example.com',
    ...EMAIL_FORMAT,
    description: 'The account e-mail (JSON). Give this or `username`.',
  })
  @ValidateIf((dto: LoginDto) => dto.email !== undefined || dto.username === undefined)
  @NormalizeEmail()
  @IsEmailAddress({
    message: ({ value }) =>
      value === undefined || value === null
        ? 'email (or username) is required'
        : 'email must be a valid e-mail address',
  })
  email?: string;

  @ApiPropertyOptional({
    example: 'ada@example.com',
    ...EMAIL_FORMAT,
    description: 'The account e-mail (OAuth2 form field name). Give this or `email`.',
  })
  @ValidateIf((dto: LoginDto) => dto.username !== undefined)
  @NormalizeEmail()
  @IsEmailAddress()
  username?: string;

  @ApiProperty({ example: 'correct horse battery staple', minLength: 1, maxLength: PASSWORD_MAX })
  @IsStringOfLength(1, PASSWORD_MAX)
  password: string;

  @ApiPropertyOptional({
    example: 'password',
    enum: ['password'],
    description: 'OAuth2 password flow; ignored, but must be "password" when sent',
  })
  @IsOptional()
  @Equals('password', { message: 'grant_type must be "password"' })
  grant_type?: string;

  @ApiPropertyOptional({
    example: '',
    maxLength: 1000,
    description: 'OAuth2 scope; accepted and ignored',
  })
  @IsOptional()
  @IsStringOfLength(0, 1000)
  scope?: string;

  @ApiPropertyOptional({
    example: '',
    maxLength: 200,
    description: 'OAuth2 client id; accepted and ignored',
  })
  @IsOptional()
  @IsStringOfLength(0, 200)
  client_id?: string;

  @ApiPropertyOptional({
    example: '',
    maxLength: 200,
    description: 'OAuth2 client secret; accepted and ignored',
  })
  @IsOptional()
  @IsStringOfLength(0, 200)
  client_secret?: string;
}

/** The e-mail a login names, from `email` or `username` (both may be sent only if equal). */
export function loginEmail(dto: LoginDto): string {
  if (dto.email !== undefined && dto.username !== undefined && dto.email !== dto.username) {
    throw new InvalidInputError('Send either email or username, not two different addresses', [
      { field: 'username', message: 'username differs from email' },
    ]);
  }
  return (dto.email ?? dto.username)!;
}

export class RefreshDto {
  @ApiProperty({ example: 'q1kT3Y0o6mS0x8hZ1pPzv1y0Xr2n4c8bq9w7e5r3t1u', ...TOKEN_LENGTH })
  @IsStringOfLength(1, TOKEN_MAX)
  refresh_token: string;
}

export class LogoutDto {
  @ApiPropertyOptional({
    example: 'q1kT3Y0o6mS0x8hZ1pPzv1y0Xr2n4c8bq9w7e5r3t1u',
    ...TOKEN_LENGTH,
    description: 'Revokes this refresh token and every token rotated from the same login',
  })
  @IsOptional()
  @IsStringOfLength(1, TOKEN_MAX)
  refresh_token?: string;

  @ApiPropertyOptional({
    example: false,
    description: "true: revoke all of the user's refresh tokens (log out everywhere)",
  })
  @IsOptional()
  @IsBoolean({ message: 'all must be true or false' })
  all?: boolean;
}

export class EmailTokenDto {
  @ApiProperty({
    example: 'Zr8pQ2m0YV5n1cXw7bT4kLs9dF3gH6jA0eR2uI8oP1y',
    ...TOKEN_LENGTH,
    description: 'The token from the e-mail link',
  })
  @IsStringOfLength(1, TOKEN_MAX)
  token: string;
}

export class PasswordResetRequestDto {
  @ApiProperty({ example: 'ada@example.com', ...EMAIL_FORMAT })
  @NormalizeEmail()
  @IsEmailAddress()
  email: string;
}

export class PasswordResetConfirmDto {
  @ApiProperty({
    example: 'Zr8pQ2m0YV5n1cXw7bT4kLs9dF3gH6jA0eR2uI8oP1y',
    ...TOKEN_LENGTH,
    description: 'The token from the e-mail link',
  })
  @IsStringOfLength(1, TOKEN_MAX)
  token: string;

  @ApiProperty({
    example: 'a new long passphrase',
    minLength: PASSWORD_MIN,
    maxLength: PASSWORD_MAX,
  })
  @IsStringOfLength(PASSWORD_MIN, PASSWORD_MAX)
  @IsWellFormedText()
  new_password: string;
}
