import { GenerationAbortedError, ProviderTimeoutError } from '../provider.errors';

export type TimeoutPhase = 'connect' | 'first_token' | 'idle' | 'total';

/** Abort reason set by our own timers (as opposed to the caller aborting). */
export class TimeoutReason {
  constructor(readonly phase: TimeoutPhase) {}
}

/** Abort reason when an attempt is closed because its result is no longer wanted. */
const DISCARDED = Symbol('discarded');

export interface AttemptTimeouts {
  connectTimeoutMs: number;
  firstTokenTimeoutMs: number;
  idleTimeoutMs: number;
}

/**
 * One generation across all its attempts: the caller's AbortSignal plus the total deadline.
 * Everything below listens to `signal`.
 */
export class CallScope {
  private readonly controller = new AbortController();
  private readonly deadline: number;
  private readonly timer: NodeJS.Timeout;
  private readonly onCallerAbort = () => this.controller.abort(this.callerSignal?.reason);

  constructor(
    private readonly callerSignal: AbortSignal | undefined,
    totalTimeoutMs: number,
  ) {
    this.deadline = Date.now() + totalTimeoutMs;
    this.timer = setTimeout(
      () => this.controller.abort(new TimeoutReason('total')),
      totalTimeoutMs,
    );
    if (callerSignal?.aborted) this.onCallerAbort();
    else callerSignal?.addEventListener('abort', this.onCallerAbort, { once: true });
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  remainingMs(): number {
    return Math.max(0, this.deadline - Date.now());
  }

  /** Why the whole call is over, if it is: the caller aborted, or the total deadline passed. */
  endError(): Error | undefined {
    if (!this.controller.signal.aborted) return undefined;
    const reason: unknown = this.controller.signal.reason;
    if (reason instanceof TimeoutReason) {
      return new ProviderTimeoutError('The AI provider did not finish the reply in time');
    }
    return new GenerationAbortedError();
  }

  /** Waits `ms` unless the call ends first (then rejects with endError()). */
  sleep(ms: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const ended = this.endError();
      if (ended) return reject(ended);
      if (ms <= 0) return resolve();
      const onAbort = () => {
        clearTimeout(timer);
        reject(this.endError() ?? new GenerationAbortedError());
      };
      const timer = setTimeout(() => {
        this.signal.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      this.signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  dispose(): void {
    clearTimeout(this.timer);
    this.callerSignal?.removeEventListener('abort', this.onCallerAbort);
  }
}

/**
 * One upstream attempt: its own AbortController (aborted when the call ends, when one of the
 * attempt timers fires, or when the attempt is discarded), which is the signal handed to the SDK.
 */
export class AttemptScope {
  private readonly controller = new AbortController();
  private connectTimer?: NodeJS.Timeout;
  private firstTokenTimer?: NodeJS.Timeout;
  private idleTimer?: NodeJS.Timeout;
  /** When we started waiting for the next chunk; undefined while the caller holds a delta. */
  private waitingSince?: number;
  private disposed = false;
  /** The upstream reply was read to its end: there is no connection left to close. */
  private completed = false;
  /** Rejects the promise `race` is waiting on, if any. */
  private rejectRace?: (error: Error) => void;
  private readonly onCallAbort = () => this.controller.abort(this.call.signal.reason);

  /**
   * `streaming`: the connect timer runs until response headers. A non-streamed reply sends its
   * headers with the whole body, so there the first-token timer alone bounds the wait, and there
   * are no gaps between chunks for the idle timer to watch.
   */
  constructor(
    private readonly call: CallScope,
    private readonly timeouts: AttemptTimeouts,
    private readonly streaming: boolean,
  ) {
    if (call.signal.aborted) this.onCallAbort();
    else call.signal.addEventListener('abort', this.onCallAbort, { once: true });
    // One listener for the attempt's whole life rather than one per `race` (per chunk).
    this.controller.signal.addEventListener(
      'abort',
      () => this.rejectRace?.(new Error('attempt aborted')),
      { once: true },
    );
    if (streaming) {
      this.connectTimer = setTimeout(() => this.timeout('connect'), timeouts.connectTimeoutMs);
    }
    this.firstTokenTimer = setTimeout(
      () => this.timeout('first_token'),
      timeouts.firstTokenTimeoutMs,
    );
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** The upstream accepted the request (headers received). */
  markOpened(): void {
    clearTimeout(this.connectTimer);
  }

  /** The first token (or the whole reply) arrived. */
  markFirstToken(): void {
    clearTimeout(this.connectTimer);
    clearTimeout(this.firstTokenTimer);
  }

  /**
   * Start waiting for the next chunk; the idle gap counts only while we wait upstream (not
   * while the caller consumes a delta). One timer serves the whole stream: it re-arms itself
   * for the rest of the gap instead of being replaced per chunk.
   */
  armIdle(): void {
    if (!this.streaming) return;
    this.waitingSince = Date.now();
    if (!this.idleTimer) this.scheduleIdle(this.timeouts.idleTimeoutMs);
  }

  disarmIdle(): void {
    this.waitingSince = undefined;
  }

  private scheduleIdle(ms: number): void {
    this.idleTimer = setTimeout(() => {
      this.idleTimer = undefined;
      if (this.waitingSince === undefined || this.disposed) return;
      const waited = Date.now() - this.waitingSince;
      if (waited >= this.timeouts.idleTimeoutMs) this.timeout('idle');
      else this.scheduleIdle(this.timeouts.idleTimeoutMs - waited);
    }, ms);
  }

  /** Which of our timers ended this attempt, if one did. */
  timeoutPhase(): TimeoutPhase | undefined {
    const reason: unknown = this.controller.signal.reason;
    return reason instanceof TimeoutReason ? reason.phase : undefined;
  }

  /**
   * `promise`, or a rejection as soon as this attempt is aborted (the SDK may be slow to notice).
   * One race at a time: the attempt awaits each chunk before asking for the next.
   */
  race<T>(promise: Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (this.controller.signal.aborted) reject(new Error('attempt aborted'));
      else this.rejectRace = reject;
      promise.then(
        (value) => {
          this.rejectRace = undefined;
          resolve(value);
        },
        (error: unknown) => {
          this.rejectRace = undefined;
          reject(error instanceof Error ? error : new Error(String(error)));
        },
      );
    });
  }

  /** The upstream reply was read to its end (success): disposing then aborts nothing. */
  markCompleted(): void {
    this.completed = true;
  }

  /** Stops the timers and closes the upstream connection if it is still open. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    clearTimeout(this.connectTimer);
    clearTimeout(this.firstTokenTimer);
    clearTimeout(this.idleTimer);
    this.call.signal.removeEventListener('abort', this.onCallAbort);
    // Aborting a finished request would only make the SDK build and dispatch an AbortError.
    if (!this.completed && !this.controller.signal.aborted) this.controller.abort(DISCARDED);
  }

  private timeout(phase: TimeoutPhase): void {
    if (!this.controller.signal.aborted) this.controller.abort(new TimeoutReason(phase));
  }
}
