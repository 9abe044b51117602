import type { ChatEventListener, ChatTurn, TurnOutcome } from '../chat-turn';
import { safeListener } from '../chat-turn';
import type { PreparedTurn } from './chat-turn-preflight';
import type { ChatTurnRunner } from './chat-turn-runner';

/** A turn the preflight prepared; `run` hands it to the runner once, whoever calls it. */
export class LiveTurn implements ChatTurn {
  readonly replayed = false;
  private started: Promise<TurnOutcome> | undefined;
  private left = false;

  constructor(
    private readonly runner: ChatTurnRunner,
    private readonly turn: PreparedTurn,
  ) {}

  get sessionId(): string {
    return this.turn.sessionId;
  }

  get messageId(): string {
    return this.turn.messageId;
  }

  get model(): string {
    return this.turn.model;
  }

  run(listener?: ChatEventListener): Promise<TurnOutcome> {
    this.started ??= this.runner.run(this.turn, safeListener(listener));
    return this.started;
  }

  leave(): void {
    if (this.left) return;
    this.left = true;
    this.runner.leave(this.turn);
  }
}
