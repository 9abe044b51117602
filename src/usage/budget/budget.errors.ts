import { DomainError, RateLimitedError } from '@app/common';

/** A budget period: the UTC day or the UTC calendar month. */
export type BudgetPeriod = 'day' | 'month';

/** 429: the request could cost more than what is left of a budget; Retry-After = until reset. */
export class BudgetExceededError extends RateLimitedError {
  constructor(
    message: string,
    retryAfterSeconds: number,
    readonly period: BudgetPeriod,
  ) {
    super(message, retryAfterSeconds);
  }
}

/** 503: budgets cannot be checked (Redis down) and BUDGET__REDIS_DOWN=closed. */
export class BudgetUnavailableError extends DomainError {
  readonly kind = 'upstream_unavailable';
  override readonly retryAfterSeconds = 5;
}
