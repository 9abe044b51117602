import { Injectable } from '@nestjs/common';
import type { AuthUser } from './auth-user';

/** A value of `ActiveUserCache.stamp()`: what a read started under, for `remember`. */
export type ActiveUserStamp = number;

/**
 * Active accounts by id, so that an access token's account check need not read the database on
 * every request. It is only ever used while something tells it every change of an account (on
 * PostgreSQL: UserChangeListener, from a trigger on `users`): until `open`, and again after
 * `close`, it answers nothing and keeps nothing. A change forgets the account, and a read that
 * was under way when any change arrived is not kept, so a disabled, deleted or demoted account
 * is never answered from here after its change is known.
 */
@Injectable()
export class ActiveUserCache {
  static readonly CAPACITY = 10_000;
  /** A bound on what a missed change could cost; changes normally arrive within milliseconds. */
  static readonly TTL_MS = 60_000;

  private readonly users = new Map<string, { user: AuthUser; expiresAt: number }>();
  private generation = 0;
  private isOpen = false;

  /** Starts answering: changes are now being told. */
  open(): void {
    this.forgetAll();
    this.isOpen = true;
  }

  /** Stops answering and forgets everything: changes may go untold from now on. */
  close(): void {
    this.isOpen = false;
    this.forgetAll();
  }

  get(id: string): AuthUser | undefined {
    const entry = this.users.get(id);
    if (!entry) return undefined;
    if (entry.expiresAt > Date.now()) return { ...entry.user };
    this.users.delete(id);
    return undefined;
  }

  /** Taken before reading an account; undefined when nothing may be kept. */
  stamp(): ActiveUserStamp | undefined {
    return this.isOpen ? this.generation : undefined;
  }

  /**
   * Keeps an active account read under `stamp`, unless a change arrived since (closing and
   * opening count as changes).
   */
  remember(stamp: ActiveUserStamp | undefined, user: AuthUser): void {
    if (stamp !== this.generation) return;
    if (this.users.size >= ActiveUserCache.CAPACITY && !this.users.has(user.id)) {
      this.users.delete(this.users.keys().next().value!);
    }
    this.users.set(user.id, { user: { ...user }, expiresAt: Date.now() + ActiveUserCache.TTL_MS });
  }

  forget(id: string): void {
    this.generation += 1;
    this.users.delete(id);
  }

  forgetAll(): void {
    this.generation += 1;
    this.users.clear();
  }
}
