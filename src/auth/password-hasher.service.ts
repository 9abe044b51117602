import { createHash, randomBytes } from 'node:crypto';
import { Injectable, OnModuleInit } from '@nestjs/common';
import * as bcrypt from 'bcrypt';
import { AppConfig } from '@app/config';

/**
 * bcrypt (async: runs on libuv's thread pool, never blocking the event loop) at
 * SECURITY__BCRYPT_ROUNDS. Passwords are pre-hashed with SHA-256 (base64, 44 ASCII chars)
 * because bcrypt silently ignores everything after 72 bytes, and a 128-character password can
 * be up to 512 bytes of UTF-8.
 */
@Injectable()
export class PasswordHasher implements OnModuleInit {
  private dummyHash: string;

  constructor(private readonly config: AppConfig) {}

  async onModuleInit(): Promise<void> {
    // Compared against when the account does not exist, so that unknown e-mails cost as much time
    // as wrong passwords.
    this.dummyHash = await this.hash(randomBytes(32).toString('hex'));
  }

  hash(password: string): Promise<string> {
    return bcrypt.hash(prehash(password), this.config.security.bcryptRounds);
  }

  verify(password: string, hash: string): Promise<boolean> {
    return bcrypt.compare(prehash(password), hash);
  }

  /** Spends a real bcrypt comparison and returns false: the "no such account" path. */
  async verifyAgainstDummy(password: string): Promise<false> {
    await bcrypt.compare(prehash(password), this.dummyHash);
    return false;
  }
}

function prehash(password: string): string {
  return createHash('sha256').update(password, 'utf8').digest('base64');
}
