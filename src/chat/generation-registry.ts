import {
  BeforeApplicationShutdown,
  Injectable,
  Logger,
  OnApplicationBootstrap,
  Optional,
} from '@nestjs/common';
import { AppConfig } from '@app/config';
import { RedisConnections } from '../redis/redis-connections';

/** Why a generation was stopped. */
export type AbortReason = 'user_request' | 'client_disconnected' | 'shutdown';

interface Running {
  userId: string;
  controller: AbortController;
  finished: Promise<void>;
  markFinished: () => void;
}

const ABORT_CHANNEL_PREFIX = 'chat:abort:';

/**
 * The generations running in this process, one AbortController per session. An abort request
 * for a session that runs elsewhere is published on Redis (`chat:abort:<session_id>`); every
 * instance listens on that pattern and aborts its local generation, if any.
 */
@Injectable()
export class GenerationRegistry implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(GenerationRegistry.name);
  private readonly running = new Map<string, Running>();

  constructor(
    private readonly config: AppConfig,
    @Optional() private readonly redis?: RedisConnections,
  ) {}

  onApplicationBootstrap(): void {
    const subscriber = this.redis?.subscriber('chat aborts');
    if (!subscriber) return;
    subscriber.on('pmessage', (_pattern: string, channel: string, reason: string) => {
      this.abortLocal(channel.slice(ABORT_CHANNEL_PREFIX.length), reason as AbortReason);
    });
    // Not awaited: with Redis down at start-up the app starts anyway and subscribes once Redis
    // is reachable (until then aborts reach only this process's generations).
    subscriber.psubscribe(`${ABORT_CHANNEL_PREFIX}*`).catch((error: unknown) => {
      this.logger.error({ err: error }, 'Could not subscribe to abort requests');
    });
  }

  /** Registers the generation of a session; the returned signal aborts the upstream call. */
  register(sessionId: string, userId: string): AbortController {
    const controller = new AbortController();
    let markFinished = () => {};
    const finished = new Promise<void>((resolve) => (markFinished = resolve));
    this.running.set(sessionId, { userId, controller, finished, markFinished });
    return controller;
  }

  unregister(sessionId: string, controller: AbortController): void {
    const entry = this.running.get(sessionId);
    if (entry?.controller === controller) {
      this.running.delete(sessionId);
      entry.markFinished();
    }
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

  private abortLocal(sessionId: string, reason: AbortReason): boolean {
    const entry = this.running.get(sessionId);
    if (!entry) return false;
    if (!entry.controller.signal.aborted) entry.controller.abort(reason);
    return true;
  }
}
