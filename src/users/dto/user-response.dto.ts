import { ApiProperty } from '@nestjs/swagger';
import type { User } from '../entities/user.entity';

/** The account as its owner sees it (`GET /api/users/me`). */
export class UserResponseDto {
  @ApiProperty({ example: '3f0c8a9e-5b7d-4c1a-9e2f-1a2b3c4d5e6f', description: 'Opaque user id' })
  id: string;

  @ApiProperty({ example: 'ada@example.com' })
  email: string;

  @ApiProperty({ example: true, description: 'False when an administrator disabled the account' })
  is_active: boolean;

  @ApiProperty({ example: false, description: 'True once the e-mail link was confirmed' })
  email_verified: boolean;

  @ApiProperty({ example: '2026-01-31T12:00:00.000Z', description: 'ISO-8601 UTC' })
  created_at: string;
}

export function mapUser(user: User): UserResponseDto {
  return {
    id: user.id,
    email: user.email,
    is_active: user.isActive,
    email_verified: user.emailVerified,
    created_at: user.createdAt.toISOString(),
  };
}
