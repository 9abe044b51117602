import { BeforeApplicationShutdown, Inject, Injectable, Logger } from '@nestjs/common';
import { HistoryService } from '../history/history.service';
import type { ChatInput, ChatTurnOptions } from './chat-input';
import type { ChatTurn } from './chat-turn';
import { GenerationRegistry } from './generation-registry';
import { GenerationEvent, GenerationEventLog } from './generations/generation-event-log';
import { GenerationNotFoundError, ResumeUnavailableError } from './generations/generation.errors';
import { ResumedEvents } from './generations/resumed-events';
import { IN_FLIGHT_LOCK, InFlightLock } from './locks/in-flight-lock';
import { ChatTurnPreflight, sessionLockKey } from './turn/chat-turn-preflight';
import { ChatTurnRunner } from './turn/chat-turn-runner';
import { LiveTurn } from './turn/live-turn';
import { ReplayedTurn } from './turn/replayed-turn';

/** A resumed generation: its session and its events from the resume position on. */
export interface ResumedGeneration {
  sessionId: string;
  events: AsyncIterable<GenerationEvent>;
}

/**
 * The chat use case as REST, SSE, Socket.IO and WebSocket call it. `begin` runs the preflight
 * (every client error: 400, 404, 409, 429) and returns a turn whose `run` streams the reply
 * through the runner, or replays an earlier outcome of the same Idempotency-Key.
 */
@Injectable()
export class ChatService implements BeforeApplicationShutdown {
  private readonly logger = new Logger(ChatService.name);
  /** Resumes being streamed, with what ends each one. */
  private readonly resumes = new Map<AbortController, string>();

  constructor(
    private readonly preflight: ChatTurnPreflight,
    private readonly runner: ChatTurnRunner,
    private readonly history: HistoryService,
    private readonly registry: GenerationRegistry,
    @Inject(IN_FLIGHT_LOCK) private readonly locks: InFlightLock,
    private readonly events: GenerationEventLog,
  ) {}

  async begin(userId: string, input: ChatInput, options: ChatTurnOptions = {}): Promise<ChatTurn> {
    const prepared = await this.preflight.prepare(userId, input, options);
    return 'replay' in prepared
      ? new ReplayedTurn(prepared.replay)
      : new LiveTurn(this.runner, prepared.turn);
  }

  /**
   * Resumes a generation of the user (running, or finished within CHAT__RESUME_TTL_SECONDS): the
   * events after `after`, then the live rest, until its final event or until `signal` aborts (the
   * client left). While the resume streams, it counts as a client of the generation, so the
   * resume window does not run out. 404 for an unknown, expired or another user's message.
   */
  async resume(
    userId: string,
    messageId: string,
    after: number,
    signal: AbortSignal,
  ): Promise<ResumedGeneration> {
    // Ids are UUIDs; anything much longer is nobody's (and never becomes a Redis key).
    if (messageId.length > 100) throw new GenerationNotFoundError();
    const ended = new AbortController();
    // The first read goes out together with the owner look-up (one round trip to Redis, not
    // two); what it read is dropped unless the generation is the caller's.
    const reader = this.events
      .read(messageId, after, AbortSignal.any([signal, ended.signal]))
      [Symbol.asyncIterator]();
    const first = reader.next();
    first.catch(() => undefined); // surfaces below, or dropped with a refused resume
    const refuse = (error: Error) => {
      ended.abort();
      void reader.return?.(undefined).catch(() => undefined);
      return error;
    };
    const owner = await this.events.owner(messageId).catch((error: unknown) => {
      this.logger.warn({ err: error, messageId }, 'Could not read the events of a generation');
      throw refuse(new ResumeUnavailableError());
    });
    if (!owner || owner.userId !== userId) throw refuse(new GenerationNotFoundError());
    // Counted as a client from now on; the first events need not wait for the count to reach
    // the owner instance.
    const attached = this.registry.attach(messageId).then(
      () => true,
      (error: unknown) => {
        this.logger.warn({ err: error, messageId }, 'Could not attach a resume to its generation');
        return false;
      },
    );
    this.resumes.set(ended, messageId);
    const events = new ResumedEvents(reader, first, async () => {
      this.resumes.delete(ended);
      await reader.return?.(undefined);
      if (await attached) await this.registry.detach(messageId);
    });
    return { sessionId: owner.sessionId, events };
  }

  /**
   * At shutdown, resumes of generations running on other instances end at once (their clients
   * resume elsewhere), so they do not hold the HTTP server open; resumes of local generations
   * end with them (GenerationRegistry lets those finish within SHUTDOWN_GRACE_MS).
   */
  beforeApplicationShutdown(): void {
    for (const [ended, messageId] of this.resumes) {
      if (!this.registry.isRunningMessageHere(messageId)) ended.abort();
    }
  }

  /**
   * Stops the running generation of a session (on any instance). 404 for an unknown session or
   * another user's. Returns whether a generation was running.
   */
  async abort(userId: string, sessionId: string): Promise<boolean> {
    const session = await this.history.requireSession(userId, sessionId);
    if (await this.registry.abort(session.id, 'user_request')) return true;
    // Running on another instance: its lock is held (the abort was published to it).
    return this.locks.isHeld(sessionLockKey(session.id));
  }
}
