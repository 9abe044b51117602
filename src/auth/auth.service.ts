import { BeforeApplicationShutdown, Injectable, Logger } from '@nestjs/common';
import { AppConfig } from '@app/config';
import { DomainError, ForbiddenError, UnauthorizedError } from '@app/common';
import { User } from '../users/entities/user.entity';
import { UsersService } from '../users/users.service';
import { LoginFailureLimiter } from '../throttling/login-failure-limiter';
import { AccessTokenService } from './access-token.service';
import { passwordResetMail, verificationMail } from './auth-mails';
import { EmailTokenService } from './email-token.service';
import { MailService } from './mail.service';
import { PasswordHasher } from './password-hasher.service';
import { AuditLogService } from '../audit/audit-log.service';
import type { AuditContext } from '../audit/audit-context';
import { RefreshTokenReuseError, RefreshTokenService } from './refresh-token.service';

export interface TokenPair {
  accessToken: string;
  expiresIn: number;
  refreshToken: string;
}

export type VerificationRequestOutcome = 'sent' | 'already_verified' | 'mail_disabled';

/** The SMTP server refused or could not be reached (503). */
export class MailDeliveryError extends DomainError {
  readonly kind = 'upstream_unavailable';
}

const INVALID_CREDENTIALS = 'Incorrect email or password';

@Injectable()
export class AuthService implements BeforeApplicationShutdown {
  private readonly logger = new Logger(AuthService.name);
  private readonly background = new Set<Promise<void>>();

  constructor(
    private readonly config: AppConfig,
    private readonly users: UsersService,
    private readonly hasher: PasswordHasher,
    private readonly accessTokens: AccessTokenService,
    private readonly refreshTokens: RefreshTokenService,
    private readonly emailTokens: EmailTokenService,
    private readonly mail: MailService,
    private readonly loginFailures: LoginFailureLimiter,
    private readonly audit: AuditLogService,
  ) {}

  /** Creates an account (ConflictError when the e-mail is taken). */
  async register(email: string, password: string): Promise<User> {
    return this.users.create(email, await this.hasher.hash(password));
  }

  /**
   * Checks credentials and starts a new refresh-token family. Unknown e-mail and wrong password
   * fail identically and cost the same bcrypt time; both count towards the account lock, whose
   * start is audited (`context`: the client's address).
   */
  async login(email: string, password: string, context: AuditContext): Promise<TokenPair> {
    await this.loginFailures.assertNotLocked(email);
    const user = await this.users.findByEmail(email);
    const valid = user
      ? await this.hasher.verify(password, user.passwordHash)
      : await this.hasher.verifyAgainstDummy(password);
    if (!user || !valid) {
      if (await this.loginFailures.recordFailure(email)) {
        await this.audit.recordSecurityEvent(context, {
          action: 'auth.login_locked',
          target: `email:${email}`,
          details: { account_exists: Boolean(user) },
        });
      }
      throw new UnauthorizedError(INVALID_CREDENTIALS);
    }
    if (!user.isActive) throw new ForbiddenError('Account is disabled');
    return this.issuePair(user.id);
  }

  /** Exchanges a refresh token for a new pair (rotation; reuse revokes the family and is audited). */
  async refresh(presented: string, context: AuditContext): Promise<TokenPair> {
    try {
      return await this.rotate(presented);
    } catch (error) {
      if (error instanceof RefreshTokenReuseError) {
        await this.audit.recordSecurityEvent(context, {
          action: 'auth.refresh_token_reused',
          target: `user:${error.userId}`,
          details: { family_id: error.familyId },
        });
      }
      throw error;
    }
  }

  private async rotate(presented: string): Promise<TokenPair> {
    const row = await this.refreshTokens.findUsable(presented);
    const user = await this.users.findById(row.userId);
    if (!user) throw new UnauthorizedError('Invalid refresh token');
    if (!user.isActive) throw new ForbiddenError('Account is disabled');
    const refreshToken = await this.refreshTokens.rotate(row);
    const { accessToken, expiresIn } = await this.accessTokens.issue(user.id);
    return { accessToken, expiresIn, refreshToken };
  }

  /** Revokes one login's refresh tokens, or all of the user's with `all`. */
  async logout(userId: string, options: { refreshToken?: string; all?: boolean }): Promise<void> {
    if (options.all) {
      await this.refreshTokens.revokeAllForUser(userId);
    } else if (options.refreshToken) {
      await this.refreshTokens.revokeFamilyOf(options.refreshToken, userId);
    }
  }

  /** Sends a verification link to the user's address (unless verified already or mail is off). */
  async requestEmailVerification(userId: string): Promise<VerificationRequestOutcome> {
    const user = await this.users.findById(userId);
    if (!user) throw new UnauthorizedError('Invalid access token');
    if (user.emailVerified) return 'already_verified';
    if (!this.mail.enabled) return 'mail_disabled';
    const token = await this.emailTokens.create(user.id, 'verify_email');
    const link = `${this.config.http.publicBaseUrl}/verify-email?token=${token}`;
    try {
      await this.mail.send(
        verificationMail(user.email, link, this.config.security.emailTokenTtlMinutes),
      );
    } catch (error) {
      this.logger.error({ err: error }, 'Sending the verification e-mail failed');
      throw new MailDeliveryError('Could not send the e-mail; try again later');
    }
    return 'sent';
  }

  /** Spends a verification token and marks the address verified. */
  async confirmEmailVerification(token: string): Promise<User> {
    const userId = await this.emailTokens.consume(token, 'verify_email');
    await this.users.markEmailVerified(userId);
    const user = await this.users.findById(userId);
    if (!user) throw new UnauthorizedError('Invalid access token');
    return user;
  }

  /**
   * Answers at once and does the work in the background, so that neither the answer nor its
   * timing tells whether the address has an account.
   */
  requestPasswordReset(email: string): void {
    this.runInBackground('password-reset e-mail', async () => {
      const user = await this.users.findByEmail(email);
      if (!user || !user.isActive || !this.mail.enabled) return;
      const token = await this.emailTokens.create(user.id, 'password_reset');
      const link = `${this.config.http.publicBaseUrl}/reset-password?token=${token}`;
      await this.mail.send(
        passwordResetMail(user.email, link, this.config.security.emailTokenTtlMinutes),
      );
    });
  }

  /**
   * Spends a reset token, sets the new password and revokes every refresh token of the user.
   * The link proved control of the mailbox, so the address counts as verified too.
   */
  async confirmPasswordReset(token: string, newPassword: string): Promise<void> {
    const userId = await this.emailTokens.consume(token, 'password_reset');
    await this.users.updatePasswordHash(userId, await this.hasher.hash(newPassword));
    await this.users.markEmailVerified(userId);
    await this.refreshTokens.revokeAllForUser(userId);
  }

  /** Lets background e-mail work finish before the database and SMTP connections close. */
  async beforeApplicationShutdown(): Promise<void> {
    await Promise.allSettled([...this.background]);
  }

  private async issuePair(userId: string): Promise<TokenPair> {
    const { accessToken, expiresIn } = await this.accessTokens.issue(userId);
    const refreshToken = await this.refreshTokens.issue(userId);
    return { accessToken, expiresIn, refreshToken };
  }

  private runInBackground(what: string, work: () => Promise<void>): void {
    const task = work().catch((error: unknown) => {
      this.logger.error({ err: error }, `Background ${what} failed`);
    });
    this.background.add(task);
    void task.finally(() => this.background.delete(task));
  }
}
