import { createHash, randomBytes } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { Injectable, OnModuleInit } from '@nestjs/common';
import * as bcrypt from 'bcrypt';
import { AppConfig } from '@app/config';

/**
 * bcrypt (async: runs on libuv's thread pool, never blocking the event loop) at
 * SECURITY__BCRYPT_ROUNDS. Passwords are pre-hashed with SHA-256 (base64, 44 ASCII chars)
 * because bcrypt silently ignores everything after 72 bytes, and a 128-character password can
 * be up to 512 bytes of UTF-8.
 *
 * At most one hash per CPU core runs at a time (the rest wait in line): libuv's pool has 4
 * threads, and on a 2-core machine 4 busy hashing threads leave the event loop a third of the
 * CPU during a login storm, so every other request waits (event-loop delay). One per core hashes
 * exactly as fast (the cores are the limit either way) and keeps the loop responsive.
 */
@Injectable()
export class PasswordHasher implements OnModuleInit {
  private dummyHash: string;
  private readonly slots = new HashSlots(Math.max(1, availableParallelism()));

  constructor(private readonly config: AppConfig) {}

  async onModuleInit(): Promise<void> {
    // Compared against when the account does not exist, so that unknown e-mails cost as much time
    // as wrong passwords.
    this.dummyHash = await this.hash(randomBytes(32).toString('hex'));
  }

  hash(password: string): Promise<string> {
    return this.slots.run(() => bcrypt.hash(prehash(password), this.config.security.bcryptRounds));
  }

  verify(password: string, hash: string): Promise<boolean> {
    return this.slots.run(() => bcrypt.compare(prehash(password), hash));
  }

  /** Spends a real bcrypt comparison and returns false: the "no such account" path. */
  async verifyAgainstDummy(password: string): Promise<false> {
    await this.slots.run(() => bcrypt.compare(prehash(password), this.dummyHash));
    return false;
  }
}

/** A counting semaphore: `run` starts `task` when fewer than `size` are running (FIFO). */
class HashSlots {
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly size: number) {}

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.running >= this.size) {
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    } else {
      this.running++;
    }
    try {
      return await task();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.running--;
    }
  }
}

function prehash(password: string): string {
  return createHash('sha256').update(password, 'utf8').digest('base64');
}
