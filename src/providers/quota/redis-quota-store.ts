import Redis from 'ioredis';
import type { QuotaStore, WindowHit } from './quota-store';

/** Check-and-count in one step, so instances racing on one user cannot both pass the limit. */
const HIT_WINDOW = `
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
local previous = tonumber(redis.call('GET', KEYS[2]) or '0')
if previous * tonumber(ARGV[2]) + current + 1 > tonumber(ARGV[1]) then
  return {0, current, previous}
end
current = redis.call('INCR', KEYS[1])
if current == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[3]) end
return {1, current, previous}
`;

const ADD = `
local value = redis.call('INCRBY', KEYS[1], ARGV[1])
if redis.call('PTTL', KEYS[1]) < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return value
`;

/**
 * Quota counters in Redis, shared by every instance. Keys live under `chatbot:quota:`; the
 * connection is the caller's (RedisModule's shared command connection in the app).
 */
export class RedisQuotaStore implements QuotaStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix = 'chatbot:quota:',
  ) {}

  async hitWindow(
    currentKey: string,
    previousKey: string,
    limit: number,
    previousWeight: number,
    ttlMs: number,
  ): Promise<WindowHit> {
    const [allowed, current, previous] = (await this.redis.eval(
      HIT_WINDOW,
      2,
      this.prefix + currentKey,
      this.prefix + previousKey,
      limit,
      previousWeight.toFixed(6),
      Math.ceil(ttlMs),
    )) as [number, number, number];
    return { allowed: allowed === 1, current, previous };
  }

  async add(key: string, amount: number, ttlMs: number): Promise<number> {
    return (await this.redis.eval(
      ADD,
      1,
      this.prefix + key,
      Math.round(amount),
      Math.ceil(ttlMs),
    )) as number;
  }

  async get(key: string): Promise<number> {
    return Number((await this.redis.get(this.prefix + key)) ?? 0);
  }
}
