import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { IsNull, Repository } from 'typeorm';
import { AppConfig } from '@app/config';
import { InvalidInputError } from '@app/common';
import { EmailToken, EmailTokenPurpose } from './entities/email-token.entity';
import { generateOpaqueToken, hashOpaqueToken } from './opaque-token';

const MINUTE_MS = 60_000;

/** Single-use e-mail verification and password-reset tokens, stored hashed, with an expiry. */
@Injectable()
export class EmailTokenService {
  constructor(
    @InjectRepository(EmailToken) private readonly tokens: Repository<EmailToken>,
    private readonly config: AppConfig,
  ) {}

  /** A new token; returns the raw value for the e-mail link. */
  async create(userId: string, purpose: EmailTokenPurpose): Promise<string> {
    const token = generateOpaqueToken();
    await this.tokens.insert({
      id: randomUUID(),
      userId,
      purpose,
      tokenHash: hashOpaqueToken(token),
      expiresAt: new Date(Date.now() + this.config.security.emailTokenTtlMinutes * MINUTE_MS),
      usedAt: null,
    });
    return token;
  }

  /**
   * Spends a token and returns its user id. InvalidInputError (400) when unknown, of another
   * purpose, expired or already used. Spending one also voids the user's other open tokens of
   * the same purpose, so an older link cannot be used afterwards.
   */
  async consume(presented: string, purpose: EmailTokenPurpose): Promise<string> {
    const row = await this.tokens.findOneBy({ tokenHash: hashOpaqueToken(presented), purpose });
    if (!row) throw new InvalidInputError('Invalid token');
    if (row.usedAt) throw new InvalidInputError('Token has already been used');
    if (row.expiresAt.getTime() <= Date.now()) throw new InvalidInputError('Token has expired');
    const now = new Date();
    const claimed = await this.tokens.update({ id: row.id, usedAt: IsNull() }, { usedAt: now });
    if (!claimed.affected) throw new InvalidInputError('Token has already been used');
    await this.tokens.update({ userId: row.userId, purpose, usedAt: IsNull() }, { usedAt: now });
    return row.userId;
  }
}
