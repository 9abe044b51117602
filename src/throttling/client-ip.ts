import { normalizeIp } from '@nestjs/throttler';
import type { Request } from 'express';

/**
 * The client address used for per-IP limits: Express' `req.ip`, which honours `trust proxy`
 * (TRUST_PROXY hop count or subnet) and otherwise ignores X-Forwarded-For. IPv6 addresses are
 * grouped by /64, since one client usually owns a whole /64.
 */
export function clientIp(req: Pick<Request, 'ip' | 'socket'>): string {
  return normalizeIp(req.ip ?? req.socket?.remoteAddress ?? 'unknown');
}
