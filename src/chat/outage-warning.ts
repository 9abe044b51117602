import type { Logger } from '@nestjs/common';

/** How often one outage warning is repeated while the outage lasts. */
const WARNING_INTERVAL_MS = 30_000;

/**
 * A warning logged at most once every 30 seconds, for a dependency (Redis) that fails every
 * call while it is down: the log says it is down without one line per request.
 */
export class OutageWarning {
  private lastWarning = 0;

  constructor(
    private readonly logger: Logger,
    private readonly message: string,
  ) {}

  /** Logs `error` with the message unless the last warning is less than 30 seconds old. */
  log(error: unknown): void {
    const now = Date.now();
    if (now - this.lastWarning < WARNING_INTERVAL_MS) return;
    this.lastWarning = now;
    this.logger.warn({ err: error }, this.message);
  }
}
