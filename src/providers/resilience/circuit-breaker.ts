export type CircuitState = 'closed' | 'open' | 'half_open';

/**
 * A circuit breaker for one provider key: `threshold` consecutive failures open it for
 * `cooldownMs` (requests fail fast), then it lets exactly one trial request through
 * (half-open); the trial's success closes it, its failure opens it again.
 */
export class CircuitBreaker {
  private state: CircuitState = 'closed';
  private failures = 0;
  private openUntil = 0;
  private trialInFlight = false;

  constructor(
    private readonly threshold: number,
    private readonly cooldownMs: number,
    private readonly now: () => number = Date.now,
    private readonly onStateChange?: (state: CircuitState) => void,
  ) {}

  /** Current state; an open circuit whose cooldown is over reports `half_open`. */
  get currentState(): CircuitState {
    if (this.state === 'open' && this.now() >= this.openUntil) return 'half_open';
    return this.state;
  }

  /** True when a request could pass now (no side effect). */
  canPass(): boolean {
    const state = this.currentState;
    if (state === 'closed') return true;
    if (state === 'open') return false;
    return !this.trialInFlight;
  }

  /**
   * Claims the right to send one request. In half-open state only one claim succeeds until
   * its outcome is reported with onSuccess, onFailure or release.
   */
  tryAcquire(): boolean {
    if (!this.canPass()) return false;
    if (this.currentState === 'half_open') {
      this.setState('half_open');
      this.trialInFlight = true;
    }
    return true;
  }

  onSuccess(): void {
    this.failures = 0;
    this.trialInFlight = false;
    this.setState('closed');
  }

  onFailure(): void {
    this.trialInFlight = false;
    if (this.state === 'half_open') {
      this.open();
      return;
    }
    this.failures += 1;
    if (this.failures >= this.threshold) this.open();
  }

  /** The claimed request ended without saying anything about the provider's health (abort). */
  release(): void {
    this.trialInFlight = false;
  }

  /** Milliseconds until a request may pass: 0 when it may now, undefined while a trial runs. */
  readyInMs(): number | undefined {
    const state = this.currentState;
    if (state === 'closed') return 0;
    if (state === 'open') return this.openUntil - this.now();
    return this.trialInFlight ? undefined : 0;
  }

  private open(): void {
    this.failures = 0;
    this.openUntil = this.now() + this.cooldownMs;
    this.setState('open');
  }

  private setState(state: CircuitState): void {
    if (this.state === state) return;
    this.state = state;
    this.onStateChange?.(state);
  }
}
