import { ApiProperty } from '@nestjs/swagger';
import type { User } from '../../users/entities/user.entity';

export class RegisteredUserDto {
  @ApiProperty({ example: '3f0c8a9e-5b7d-4c1a-9e2f-1a2b3c4d5e6f' })
  id: string;

  @ApiProperty({ example: 'ada@example.com' })
  email: string;

  @ApiProperty({ example: '2026-01-31T12:00:00.000Z', description: 'ISO-8601 UTC' })
  created_at: string;
}

export function mapRegisteredUser(user: User): RegisteredUserDto {
  return { id: user.id, email: user.email, created_at: user.createdAt.toISOString() };
}

export class TokenPairDto {
  @ApiProperty({
    example: 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIzZjBjOGE5ZSJ9.c2lnbmF0dXJl',
    description: 'JWT (HS256) for `Authorization: Bearer <token>`',
  })
  access_token: string;

  @ApiProperty({ example: 'bearer', enum: ['bearer'] })
  token_type: 'bearer';

  @ApiProperty({ type: 'integer', example: 1800, description: 'Access-token lifetime in seconds' })
  expires_in: number;

  @ApiProperty({
    example: 'q1kT3Y0o6mS0x8hZ1pPzv1y0Xr2n4c8bq9w7e5r3t1u',
    description: 'Opaque, single use: exchange it at /api/auth/refresh for a new pair',
  })
  refresh_token: string;
}

export class AcceptedDto {
  @ApiProperty({ example: 'If the address belongs to an account, an e-mail is on its way' })
  message: string;
}
