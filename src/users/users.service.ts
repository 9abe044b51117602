import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { QueryFailedError, Repository } from 'typeorm';
import { ConflictError } from '@app/common';
import { FilesService } from '../files/files.service';
import { AppConfig } from '@app/config';
import { HistoryService } from '../history/history.service';
import { UsageService } from '../usage/usage.service';
import { ActiveUserCache } from '../auth/active-user-cache';
import { User } from './entities/user.entity';

/** Users table access. Emails reach here already trimmed and lower-cased by the DTOs. */
@Injectable()
export class UsersService {
  constructor(
    @InjectRepository(User) private readonly users: Repository<User>,
    private readonly history: HistoryService,
    private readonly usage: UsageService,
    private readonly files: FilesService,
    private readonly config: AppConfig,
    private readonly activeUsers: ActiveUserCache,
  ) {}

  /**
   * Creates an account (an admin when ADMIN_EMAILS lists the address); ConflictError when the
   * e-mail is taken (also under a concurrent insert).
   */
  async create(email: string, passwordHash: string): Promise<User> {
    if (await this.users.existsBy({ email })) throw emailTaken();
    const user = this.users.create({
      id: randomUUID(),
      email,
      passwordHash,
      isActive: true,
      emailVerified: false,
      role: this.config.admin.emails.includes(email) ? 'admin' : 'user',
      requestsPerMinuteLimit: null,
      tokensPerDayLimit: null,
    });
    try {
      return await this.users.save(user);
    } catch (error) {
      if (isUniqueViolation(error)) throw emailTaken();
      throw error;
    }
  }

  findById(id: string): Promise<User | null> {
    return this.users.findOneBy({ id });
  }

  findByEmail(email: string): Promise<User | null> {
    return this.users.findOneBy({ email });
  }

  async markEmailVerified(id: string): Promise<void> {
    await this.users.update({ id }, { emailVerified: true });
  }

  async updatePasswordHash(id: string, passwordHash: string): Promise<void> {
    await this.users.update({ id }, { passwordHash });
  }

  /**
   * Deletes the account and everything it owns. SQL foreign keys cascade to refresh and e-mail
   * tokens and to SQL chat history; history kept outside this database (Mongo) is erased first,
   * so a failure there leaves the account in place to retry rather than orphaned messages; so are
   * the uploaded files' bytes in the file storage.
   */
  async deleteAccount(userId: string): Promise<void> {
    await this.history.deleteAllForUser(userId);
    await this.usage.deleteForUser(userId);
    await this.files.deleteAllForUser(userId);
    await this.users.delete({ id: userId });
    this.activeUsers.forget(userId);
  }
}

function emailTaken(): ConflictError {
  return new ConflictError('An account with this e-mail already exists');
}

/** Unique-constraint failure on Postgres (23505) or SQLite (SQLITE_CONSTRAINT_UNIQUE). */
function isUniqueViolation(error: unknown): boolean {
  if (!(error instanceof QueryFailedError)) return false;
  const driverError = error.driverError as { code?: string };
  return driverError?.code === '23505' || driverError?.code === 'SQLITE_CONSTRAINT_UNIQUE';
}
