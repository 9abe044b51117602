import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { IsNull, Repository } from 'typeorm';
import { AppConfig } from '@app/config';
import { UnauthorizedError } from '@app/common';
import { RefreshToken } from './entities/refresh-token.entity';
import { generateOpaqueToken, hashOpaqueToken } from './opaque-token';

const DAY_MS = 86_400_000;

/**
 * Opaque refresh tokens with rotation. Each login starts a family; every exchange spends the
 * presented token and issues the next one in the same family. Presenting a spent token again
 * means it leaked (or raced): the whole family is revoked.
 */
@Injectable()
export class RefreshTokenService {
  constructor(
    @InjectRepository(RefreshToken) private readonly tokens: Repository<RefreshToken>,
    private readonly config: AppConfig,
  ) {}

  /** A new token for the user; a new family unless one is given. Returns the raw token. */
  async issue(userId: string, familyId: string = randomUUID()): Promise<string> {
    const token = generateOpaqueToken();
    await this.tokens.insert({
      id: randomUUID(),
      userId,
      familyId,
      tokenHash: hashOpaqueToken(token),
      expiresAt: new Date(Date.now() + this.config.security.refreshTokenTtlDays * DAY_MS),
      usedAt: null,
      revokedAt: null,
    });
    return token;
  }

  /**
   * Checks a presented token without spending it: UnauthorizedError when unknown, revoked,
   * expired or already spent (which also revokes its family).
   */
  async findUsable(presented: string): Promise<RefreshToken> {
    const row = await this.tokens.findOneBy({ tokenHash: hashOpaqueToken(presented) });
    if (!row) throw new UnauthorizedError('Invalid refresh token');
    if (row.revokedAt) throw new UnauthorizedError('Refresh token has been revoked');
    if (row.usedAt) {
      await this.revokeFamily(row.familyId);
      throw new RefreshTokenReuseError(row.userId, row.familyId);
    }
    if (row.expiresAt.getTime() <= Date.now()) {
      throw new UnauthorizedError('Refresh token has expired');
    }
    return row;
  }

  /**
   * Spends a token found by findUsable and returns its successor in the same family. Of two
   * concurrent exchanges of one token only one can win; the loser is treated as reuse.
   */
  async rotate(row: RefreshToken): Promise<string> {
    const claimed = await this.tokens.update(
      { id: row.id, usedAt: IsNull(), revokedAt: IsNull() },
      { usedAt: new Date() },
    );
    if (!claimed.affected) {
      await this.revokeFamily(row.familyId);
      throw new RefreshTokenReuseError(row.userId, row.familyId);
    }
    return this.issue(row.userId, row.familyId);
  }

  /** Logout of one login: revokes the family of a token, if it is the user's. */
  async revokeFamilyOf(presented: string, userId: string): Promise<void> {
    const row = await this.tokens.findOneBy({ tokenHash: hashOpaqueToken(presented) });
    if (row && row.userId === userId) await this.revokeFamily(row.familyId);
  }

  /** Logout everywhere, and what a password reset does. */
  async revokeAllForUser(userId: string): Promise<void> {
    await this.tokens.update({ userId, revokedAt: IsNull() }, { revokedAt: new Date() });
  }

  private async revokeFamily(familyId: string): Promise<void> {
    await this.tokens.update({ familyId, revokedAt: IsNull() }, { revokedAt: new Date() });
  }
}

/** A spent refresh token was presented again (leaked, or raced): its family is now revoked. */
export class RefreshTokenReuseError extends UnauthorizedError {
  constructor(
    readonly userId: string,
    readonly familyId: string,
  ) {
    super('Refresh token was already used; this login has been revoked, sign in again');
  }
}
