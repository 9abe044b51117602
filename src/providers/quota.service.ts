import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import { RateLimitedError } from '@app/common';
import { AppConfig, type QuotaConfig } from '@app/config';
import type { ApiKeyQuota } from '../auth/auth-user';
import { MetricsService } from '../metrics/metrics.service';
import { QUOTA_STORE, type QuotaStore } from './quota/quota-store';
import { UserQuotaOverrides } from './quota/user-quota-overrides';

const MINUTE_MS = 60_000;
const DAY_MS = 86_400_000;

/**
 * Per-user chat quotas, checked on every transport before a generation starts:
 * requests per minute (a sliding window: the current minute plus the previous one weighted by
 * how much of it is still inside the last 60 s, so there is no double burst at minute
 * boundaries) and tokens per UTC day (prompt + completion, recorded after each reply). A turn
 * made with a personal API key also counts against the key's own daily token quota (its
 * `tokens_per_day`, else QUOTA__API_KEY_TOKENS_PER_DAY); both apply. The user's limits are
 * QUOTA__* unless an admin set the user's own (UserQuotaOverrides).
 */
@Injectable()
export class QuotaService {
  private readonly logger = new Logger(QuotaService.name);
  private readonly limits: QuotaConfig;

  constructor(
    config: AppConfig,
    @Inject(QUOTA_STORE) private readonly store: QuotaStore,
    @Optional() private readonly metrics?: MetricsService,
    @Optional() private readonly overrides?: UserQuotaOverrides,
  ) {
    this.limits = config.quota;
  }

  /**
   * Counts this request against the user's quotas, or throws RateLimitedError (429 with
   * Retry-After) when the per-minute limit or the daily token budget (the user's, or the API
   * key's when the request used one) is used up.
   */
  async assertWithinQuota(userId: string, apiKey?: ApiKeyQuota): Promise<void> {
    try {
      await this.check(userId, apiKey);
    } catch (error) {
      if (error instanceof RateLimitedError) throw error;
      // The counter store (Redis) is down: serve the chat rather than fail every request.
      this.logger.error({ err: error, userId }, 'Quota store unavailable; request let through');
    }
  }

  /** The configured QUOTA__* limits, for users without their own. */
  get defaultLimits(): QuotaConfig {
    return this.limits;
  }

  /** The user's limits: their own where an admin set them, else the configured defaults. */
  async limitsFor(userId: string): Promise<QuotaConfig> {
    if (!this.overrides) return this.limits;
    try {
      return { ...this.limits, ...(await this.overrides.overridesFor(userId)) };
    } catch (error) {
      this.logger.error({ err: error, userId }, 'Quota overrides unreadable; defaults applied');
      return this.limits;
    }
  }

  /** Tokens the user has used today (UTC), as the daily quota counts them; 0 when unknown. */
  async tokensUsedToday(userId: string): Promise<number> {
    try {
      return await this.store.get(userTokensKey(userId, Date.now()));
    } catch {
      return 0;
    }
  }

  private async check(userId: string, apiKey: ApiKeyQuota | undefined): Promise<void> {
    const now = Date.now();
    const limits = await this.limitsFor(userId);
    await this.checkTokens(userTokensKey(userId, now), limits.tokensPerDay, now, 'Daily');
    const keyLimit = apiKey ? this.keyTokensPerDay(apiKey) : 0;
    if (apiKey && keyLimit > 0) {
      await this.checkTokens(keyTokensKey(apiKey.id, now), keyLimit, now, "This API key's daily");
    }

    const window = Math.floor(now / MINUTE_MS);
    const elapsed = (now % MINUTE_MS) / MINUTE_MS;
    const limit = limits.requestsPerMinute;
    const hit = await this.store.hitWindow(
      `rpm:${userId}:${window}`,
      `rpm:${userId}:${window - 1}`,
      limit,
      1 - elapsed,
      2 * MINUTE_MS,
    );
    if (!hit.allowed) {
      this.metrics?.throttled('quota');
      throw new RateLimitedError(
        `Too many chat requests: at most ${limit} per minute`,
        Math.max(1, Math.ceil(retryAfterMs(hit.current, hit.previous, limit, elapsed) / 1000)),
      );
    }
  }

  /** 429 once `key`'s count of tokens today has reached `limit`; it resets at 00:00 UTC. */
  private async checkTokens(key: string, limit: number, now: number, what: string): Promise<void> {
    if ((await this.store.get(key)) < limit) return;
    this.metrics?.throttled('quota');
    throw new RateLimitedError(
      `${what} token quota of ${limit} tokens used up; it resets at 00:00 UTC`,
      Math.max(1, Math.ceil((DAY_MS - (now % DAY_MS)) / 1000)),
    );
  }

  /** The key's own daily token limit, or 0 when it has none (only its user's applies). */
  private keyTokensPerDay(apiKey: ApiKeyQuota): number {
    return apiKey.tokensPerDay ?? this.limits.apiKeyTokensPerDay;
  }

  /**
   * Adds a finished reply's tokens (prompt + completion) to the user's daily count, and to the
   * API key's when the turn was made with one.
   */
  async recordUsage(userId: string, tokens: number, apiKeyId?: string): Promise<void> {
    if (!Number.isFinite(tokens) || tokens <= 0) return;
    const now = Date.now();
    try {
      await this.store.add(userTokensKey(userId, now), tokens, 2 * DAY_MS);
      if (apiKeyId) await this.store.add(keyTokensKey(apiKeyId, now), tokens, 2 * DAY_MS);
    } catch (error) {
      this.logger.error(
        { err: error, userId, apiKeyId, tokens },
        'Quota store unavailable; usage not recorded',
      );
    }
  }
}

function utcDay(now: number): string {
  return new Date(now).toISOString().slice(0, 10);
}

const userTokensKey = (userId: string, now: number) => `tokens:${userId}:${utcDay(now)}`;
const keyTokensKey = (apiKeyId: string, now: number) => `tokens:key:${apiKeyId}:${utcDay(now)}`;

/**
 * When one more request fits: the estimate `previous * (1 - t) + current` (t = fraction of the
 * current minute elapsed) falls as the previous minute slides out; if the current minute alone
 * is full, wait for the next one, where this minute becomes the weighted previous.
 */
export function retryAfterMs(
  current: number,
  previous: number,
  limit: number,
  elapsed: number,
): number {
  const room = limit - 1;
  if (current <= room && previous > 0) {
    const t = 1 - (room - current) / previous;
    return Math.max(0, (t - elapsed) * MINUTE_MS);
  }
  const untilNext = (1 - elapsed) * MINUTE_MS;
  if (current <= 0) return untilNext;
  const t = Math.max(0, 1 - room / current);
  return untilNext + t * MINUTE_MS;
}
