import { randomUUID } from 'node:crypto';
import {
  BeforeApplicationShutdown,
  Injectable,
  Logger,
  OnApplicationBootstrap,
  OnApplicationShutdown,
  Optional,
} from '@nestjs/common';
import { AppConfig } from '@app/config';
import { RedisConnections } from '../redis/redis-connections';

/** Why a generation was stopped. */
export type AbortReason = 'user_request' | 'client_disconnected' | 'shutdown';

interface Running {
  userId: string;
  messageId: string;
  controller: AbortController;
  finished: Promise<void>;
  markFinished: () => void;
  /** Connections of this process streaming this generation: the one that started it, plus resumes. */
  clients: number;
  /** Resumes served by other instances: their count per instance, until the lease runs out. */
  remote: Map<string, { count: number; expiresAt: number }>;
  /** Runs out CHAT__RESUME_WINDOW_MS after the last client left, then aborts. */
  window?: NodeJS.Timeout;
}

const ABORT_CHANNEL_PREFIX = 'chat:abort:';
/**
 * `<instance id> <count>`: how many resumes of a message (the channel's suffix) an instance
 * serves, sent when it changes and renewed every REMOTE_RESUME_RENEW_MS.
 */
const CLIENTS_CHANNEL_PREFIX = 'chat:clients:';
/** How often an instance renews the resumes it serves for generations running elsewhere. */
export const REMOTE_RESUME_RENEW_MS = 5_000;
/** A remote instance's resumes count until this long after its last renewal (it may have died). */
export const REMOTE_RESUME_LEASE_MS = 3 * REMOTE_RESUME_RENEW_MS;

/**
 * The generations running in this process, one AbortController per session. An abort request
 * for a session that runs elsewhere is published on Redis (`chat:abort:<session_id>`); every
 * instance listens on that pattern and aborts its local generation, if any.
 *
 * It also counts each generation's clients: when the last one leaves, the generation keeps
 * running for CHAT__RESUME_WINDOW_MS (0: aborted at once), and a resume within the window keeps
 * it going. An instance serving resumes of a generation running elsewhere tells the owner how
 * many over Redis (`chat:clients:<message_id>`) and renews that count; an instance that dies
 * stops renewing, and after REMOTE_RESUME_LEASE_MS its resumes no longer count.
 */
@Injectable()
export class GenerationRegistry
  implements OnApplicationBootstrap, BeforeApplicationShutdown, OnApplicationShutdown
{
  private readonly logger = new Logger(GenerationRegistry.name);
  private readonly running = new Map<string, Running>();
  private readonly instanceId = randomUUID();
  /** Resumes this process serves of generations running elsewhere, per message id. */
  private readonly servedRemotely = new Map<string, number>();
  private leaseTimer?: NodeJS.Timeout;

  constructor(
    private readonly config: AppConfig,
    @Optional() private readonly redis?: RedisConnections,
  ) {}

  onApplicationBootstrap(): void {
    const subscriber = this.redis?.subscriber('chat aborts');
    if (!subscriber) return;
    subscriber.on('pmessage', (_pattern: string, channel: string, message: string) => {
      if (channel.startsWith(CLIENTS_CHANNEL_PREFIX)) {
        const [instanceId, count] = message.split(' ');
        this.countRemote(channel.slice(CLIENTS_CHANNEL_PREFIX.length), instanceId, Number(count));
        return;
      }
      this.abortLocal(channel.slice(ABORT_CHANNEL_PREFIX.length), message as AbortReason);
    });
    // Not awaited: with Redis down at start-up the app starts anyway and subscribes once Redis
    // is reachable (until then aborts reach only this process's generations).
    subscriber
      .psubscribe(`${ABORT_CHANNEL_PREFIX}*`, `${CLIENTS_CHANNEL_PREFIX}*`)
      .catch((error: unknown) => {
        this.logger.error({ err: error }, 'Could not subscribe to abort requests');
      });
    this.leaseTimer = setInterval(() => void this.renewLeases(), REMOTE_RESUME_RENEW_MS);
    this.leaseTimer.unref();
  }

  onApplicationShutdown(): void {
    clearInterval(this.leaseTimer);
  }

  /**
   * Registers the generation of a session with one client (the connection that started it); the
   * returned signal aborts the upstream call.
   */
  register(sessionId: string, userId: string, messageId: string): AbortController {
    const controller = new AbortController();
    let markFinished = () => {};
    const finished = new Promise<void>((resolve) => (markFinished = resolve));
    this.running.set(sessionId, {
      userId,
      messageId,
      controller,
      finished,
      markFinished,
      clients: 1,
      remote: new Map(),
    });
    return controller;
  }

  unregister(sessionId: string, controller: AbortController): void {
    const entry = this.running.get(sessionId);
    if (entry?.controller === controller) {
      clearTimeout(entry.window);
      this.running.delete(sessionId);
      entry.markFinished();
    }
  }

  /**
   * A client of the generation `controller` belongs to went away: the last one starts the
   * resume window (or, with CHAT__RESUME_WINDOW_MS=0, aborts it at once).
   */
  leave(controller: AbortController): void {
    const entry = [...this.running.values()].find((running) => running.controller === controller);
    if (entry) this.leaveEntry(entry);
    else if (!controller.signal.aborted) controller.abort('client_disconnected');
  }

  /** A client resumed the generation of `messageId` (here or on its owner instance). */
  async attach(messageId: string): Promise<void> {
    if (this.attachLocal(messageId)) return;
    await this.serveRemotely(messageId, (this.servedRemotely.get(messageId) ?? 0) + 1);
  }

  /** A resuming client of `messageId` went away. */
  async detach(messageId: string): Promise<void> {
    const served = this.servedRemotely.get(messageId);
    if (served !== undefined) await this.serveRemotely(messageId, served - 1);
    else this.detachLocal(messageId);
  }

  /** True when this process runs the generation of `messageId`. */
  isRunningMessageHere(messageId: string): boolean {
    return this.byMessage(messageId) !== undefined;
  }

  /** True when this process runs a generation of the session. */
  isRunningHere(sessionId: string): boolean {
    return this.running.has(sessionId);
  }

  /**
   * Aborts the session's generation here, and asks the other instances to do the same.
   * Returns true when one was running in this process.
   */
  async abort(sessionId: string, reason: AbortReason): Promise<boolean> {
    const local = this.abortLocal(sessionId, reason);
    if (!local && this.redis) {
      try {
        await this.redis.commands.publish(ABORT_CHANNEL_PREFIX + sessionId, reason);
      } catch (error) {
        this.logger.warn({ err: error, sessionId }, 'Could not publish an abort request');
      }
    }
    return local;
  }

  /**
   * On SIGTERM (app.close), running streams get SHUTDOWN_GRACE_MS to finish, then are aborted so
   * their partial replies are stored as `aborted` before the database closes.
   */
  async beforeApplicationShutdown(): Promise<void> {
    if (this.running.size === 0) return;
    const all = () => Promise.all([...this.running.values()].map((entry) => entry.finished));
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), this.config.chat.shutdownGraceMs);
    });
    const outcome = await Promise.race([all(), grace]);
    clearTimeout(timer);
    if (outcome === 'timeout') {
      for (const sessionId of this.running.keys()) this.abortLocal(sessionId, 'shutdown');
      // Give the aborted generations a moment to store their partial replies.
      await Promise.race([all(), new Promise((resolve) => setTimeout(resolve, 5_000).unref())]);
    }
  }

  private attachLocal(messageId: string): boolean {
    const entry = this.byMessage(messageId);
    if (!entry) return false;
    entry.clients++;
    clearTimeout(entry.window);
    entry.window = undefined;
    return true;
  }

  private detachLocal(messageId: string): void {
    const entry = this.byMessage(messageId);
    if (entry) this.leaveEntry(entry);
  }

  private leaveEntry(entry: Running): void {
    entry.clients = Math.max(0, entry.clients - 1);
    this.startWindowIfAlone(entry);
  }

  /** Another instance serves `count` resumes of a generation, maybe one running here. */
  private countRemote(messageId: string, instanceId: string, count: number): void {
    const entry = this.byMessage(messageId);
    if (!entry || instanceId === this.instanceId || !Number.isInteger(count)) return;
    if (count > 0) {
      entry.remote.set(instanceId, { count, expiresAt: Date.now() + REMOTE_RESUME_LEASE_MS });
      clearTimeout(entry.window);
      entry.window = undefined;
    } else if (entry.remote.delete(instanceId)) {
      this.startWindowIfAlone(entry);
    }
  }

  private async serveRemotely(messageId: string, count: number): Promise<void> {
    if (count > 0) this.servedRemotely.set(messageId, count);
    else this.servedRemotely.delete(messageId);
    await this.publishClients(messageId, count);
  }

  /** Renews the resumes served here; forgets those of instances that stopped renewing. */
  private async renewLeases(): Promise<void> {
    const now = Date.now();
    for (const entry of this.running.values()) {
      let expired = false;
      for (const [instanceId, lease] of entry.remote) {
        if (lease.expiresAt > now) continue;
        entry.remote.delete(instanceId);
        expired = true;
      }
      if (expired) this.startWindowIfAlone(entry);
    }
    await Promise.all(
      [...this.servedRemotely].map(([messageId, count]) => this.publishClients(messageId, count)),
    );
  }

  private startWindowIfAlone(entry: Running): void {
    if (entry.clients > 0 || entry.remote.size > 0 || entry.controller.signal.aborted) return;
    const windowMs = this.config.chat.resumeWindowMs;
    if (windowMs === 0) {
      entry.controller.abort('client_disconnected');
      return;
    }
    clearTimeout(entry.window);
    entry.window = setTimeout(() => {
      if (entry.clients === 0 && entry.remote.size === 0 && !entry.controller.signal.aborted) {
        entry.controller.abort('client_disconnected');
      }
    }, windowMs);
    entry.window.unref();
  }

  private byMessage(messageId: string): Running | undefined {
    return [...this.running.values()].find((entry) => entry.messageId === messageId);
  }

  private async publishClients(messageId: string, count: number): Promise<void> {
    if (!this.redis) return;
    try {
      await this.redis.commands.publish(
        CLIENTS_CHANNEL_PREFIX + messageId,
        `${this.instanceId} ${count}`,
      );
    } catch (error) {
      this.logger.warn({ err: error, messageId }, 'Could not publish a resume');
    }
  }

  private abortLocal(sessionId: string, reason: AbortReason): boolean {
    const entry = this.running.get(sessionId);
    if (!entry) return false;
    if (!entry.controller.signal.aborted) entry.controller.abort(reason);
    return true;
  }
}
