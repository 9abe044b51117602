import { ExecutionContext, Injectable, Logger } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import {
  InjectThrottlerOptions,
  InjectThrottlerStorage,
  ThrottlerGuard,
  type ThrottlerLimitDetail,
  type ThrottlerModuleOptions,
  type ThrottlerRequest,
  type ThrottlerStorage,
} from '@nestjs/throttler';
import type { Request } from 'express';
import { RateLimitedError } from '@app/common';
import { ApiKeyAuthenticator } from '../api-keys/api-key-authenticator';
import { isApiKeyToken } from '../api-keys/api-key-hasher';
import { AccessTokenService } from '../auth/access-token.service';
import { extractBearerToken } from '../auth/bearer-token';
import { clientIp } from './client-ip';

/** Paths that must answer even under load: probes and scrapers. */
const UNTHROTTLED_PATH = /^\/(health(\/|$)|metrics(\/|$|\?))/;
const STORAGE_WARNING_INTERVAL_MS = 30_000;

/**
 * The global HTTP rate limiter. Differences from the stock ThrottlerGuard:
 * - one budget per client across all routes (not one per route);
 * - the client is the user of a valid bearer token or of a personal API key (a user's keys share
 *   the user's budget; a key with `rate_limit_per_minute` also has a budget of its own), else the
 *   IP (see clientIp);
 * - 429 is a RateLimitedError, so the body is `{detail}` with `Retry-After`;
 * - only HTTP: Socket.IO/WS traffic is limited by the chat quotas instead;
 * - a storage outage (Redis down) lets requests through with a warning instead of failing them.
 */
@Injectable()
export class AppThrottlerGuard extends ThrottlerGuard {
  private readonly log = new Logger('Throttler');
  private lastStorageWarning = 0;

  constructor(
    @InjectThrottlerOptions() options: ThrottlerModuleOptions,
    @InjectThrottlerStorage() storage: ThrottlerStorage,
    reflector: Reflector,
    private readonly accessTokens: AccessTokenService,
    private readonly apiKeys: ApiKeyAuthenticator,
  ) {
    super(options, storage, reflector);
  }

  protected override async shouldSkip(context: ExecutionContext): Promise<boolean> {
    if (context.getType() !== 'http') return true;
    const req = context.switchToHttp().getRequest<Request>();
    return UNTHROTTLED_PATH.test(req.path ?? req.url);
  }

  protected override async handleRequest(props: ThrottlerRequest): Promise<boolean> {
    try {
      const allowed = await super.handleRequest(props);
      if (props.throttler.name === 'default') await this.checkApiKeyLimit(props);
      return allowed;
    } catch (error) {
      if (error instanceof RateLimitedError) throw error;
      const now = Date.now();
      if (now - this.lastStorageWarning > STORAGE_WARNING_INTERVAL_MS) {
        this.lastStorageWarning = now;
        this.log.warn({ err: error }, 'Rate-limit storage unavailable; letting requests through');
      }
      return true;
    }
  }

  protected override async getTracker(req: Record<string, unknown>): Promise<string> {
    const request = req as unknown as Request;
    const token = extractBearerToken(request.headers?.authorization);
    if (token && isApiKeyToken(token)) {
      const owner = await this.apiKeys.ownerOf(token).catch(() => undefined);
      if (owner) return `user:${owner.userId}`;
    } else if (token) {
      try {
        const { sub } = await this.accessTokens.verifyClaimsOf(request, token);
        return `user:${sub}`;
      } catch {
        // An invalid token is counted against the IP, like an anonymous request.
      }
    }
    return `ip:${clientIp(request)}`;
  }

  /** A personal API key with its own `rate_limit_per_minute` is also counted on its own. */
  private async checkApiKeyLimit({ context, ttl, blockDuration, throttler }: ThrottlerRequest) {
    const request = context.switchToHttp().getRequest<Request>();
    const token = extractBearerToken(request.headers?.authorization);
    if (!token || !isApiKeyToken(token)) return;
    const owner = await this.apiKeys.ownerOf(token);
    if (!owner?.rateLimitPerMinute) return;
    const key = `throttle:${throttler.name ?? 'default'}:key:${owner.prefix}`;
    const limit = owner.rateLimitPerMinute;
    const hit = await this.storageService.increment(
      key,
      ttl,
      limit,
      blockDuration,
      throttler.name ?? 'default',
    );
    if (hit.isBlocked) {
      await this.throwThrottlingException(context, {
        limit,
        ttl,
        key,
        tracker: `key:${owner.prefix}`,
        ...hit,
      });
    }
  }

  protected override generateKey(_context: ExecutionContext, tracker: string, name: string) {
    return `throttle:${name}:${tracker}`;
  }

  protected override async throwThrottlingException(
    _context: ExecutionContext,
    detail: ThrottlerLimitDetail,
  ): Promise<void> {
    const seconds = Math.max(1, detail.timeToBlockExpire);
    throw new RateLimitedError(
      `Too many requests; retry in ${seconds} second${seconds === 1 ? '' : 's'}`,
      seconds,
    );
  }
}
