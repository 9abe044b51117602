/** How far back a key's recent error rate looks. */
export const OUTCOME_WINDOW_MS = 5 * 60_000;
const BUCKET_MS = 10_000;
const BUCKETS = OUTCOME_WINDOW_MS / BUCKET_MS;

/** Attempts and failures of one key over the last OUTCOME_WINDOW_MS. */
export interface RecentOutcomes {
  attempts: number;
  errors: number;
  /** errors / attempts, 0 without attempts. */
  errorRate: number;
}

/**
 * Counts one key's upstream attempts and failures in 10-second buckets over the last five
 * minutes (fixed memory per key, whatever the traffic), for the admin provider-health view.
 */
export class OutcomeWindow {
  private readonly attempts = new Array<number>(BUCKETS).fill(0);
  private readonly errors = new Array<number>(BUCKETS).fill(0);
  /** Bucket number (time / BUCKET_MS) each slot currently holds. */
  private readonly epochs = new Array<number>(BUCKETS).fill(-1);

  constructor(private readonly now: () => number = Date.now) {}

  record(failed: boolean): void {
    const epoch = Math.floor(this.now() / BUCKET_MS);
    const slot = epoch % BUCKETS;
    if (this.epochs[slot] !== epoch) {
      this.epochs[slot] = epoch;
      this.attempts[slot] = 0;
      this.errors[slot] = 0;
    }
    this.attempts[slot] += 1;
    if (failed) this.errors[slot] += 1;
  }

  snapshot(): RecentOutcomes {
    const oldest = Math.floor(this.now() / BUCKET_MS) - BUCKETS + 1;
    let attempts = 0;
    let errors = 0;
    for (let slot = 0; slot < BUCKETS; slot++) {
      if (this.epochs[slot] < oldest) continue;
      attempts += this.attempts[slot];
      errors += this.errors[slot];
    }
    return { attempts, errors, errorRate: attempts === 0 ? 0 : errors / attempts };
  }
}
