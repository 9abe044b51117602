import Redis from 'ioredis';
import type { BudgetCounter, BudgetStore, HeldReservation, ReserveOutcome } from './budget-store';

/**
 * Check every counter, then add to all of them, in one script: Redis runs it atomically, so
 * instances racing on one user can never reserve past the limit together.
 * ARGV: amount, then limit and TTL (ms) per key.
 */
const RESERVE = `
local amount = tonumber(ARGV[1])
for i = 1, #KEYS do
  local used = tonumber(redis.call('GET', KEYS[i]) or '0')
  local limit = tonumber(ARGV[2 * i])
  if used >= limit or used + amount > limit then
    return {0, i - 1, used}
  end
end
for i = 1, #KEYS do
  redis.call('INCRBY', KEYS[i], amount)
  if redis.call('PTTL', KEYS[i]) < 0 then redis.call('PEXPIRE', KEYS[i], ARGV[2 * i + 1]) end
end
return {1, -1, 0}
`;

const ADJUST = `
for i = 1, #KEYS do
  redis.call('INCRBY', KEYS[i], ARGV[1])
  if redis.call('PTTL', KEYS[i]) < 0 then redis.call('PEXPIRE', KEYS[i], ARGV[i + 1]) end
end
return 1
`;

/** GET and DEL in one step (GETDEL needs Redis 6.2), the lease (KEYS[2], member ARGV[1]) too. */
const TAKE = `
local value = redis.call('GET', KEYS[1])
if value then redis.call('DEL', KEYS[1]) end
redis.call('ZREM', KEYS[2], ARGV[1])
return value
`;

/**
 * Budget counters in Redis under `chatbot:budget:`, shared by every instance; reservations held
 * for a reply under `chatbot:budget:held:<message id>` (JSON), the leased ones' deadlines in the
 * sorted set `chatbot:budget:leases`.
 */
export class RedisBudgetStore implements BudgetStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix = 'chatbot:budget:',
  ) {}

  async reserve(counters: BudgetCounter[], amountMicros: number): Promise<ReserveOutcome> {
    const [reserved, refusedBy, used] = (await this.redis.eval(
      RESERVE,
      counters.length,
      ...counters.map((c) => this.prefix + c.key),
      Math.ceil(amountMicros),
      ...counters.flatMap((c) => [Math.floor(c.limitMicros), Math.ceil(c.ttlMs)]),
    )) as [number, number, number];
    return reserved === 1
      ? { reserved: true }
      : { reserved: false, refusedBy, usedMicros: Number(used) };
  }

  async adjust(counters: BudgetCounter[], deltaMicros: number): Promise<void> {
    if (deltaMicros === 0) return;
    await this.redis.eval(
      ADJUST,
      counters.length,
      ...counters.map((c) => this.prefix + c.key),
      Math.round(deltaMicros),
      ...counters.map((c) => Math.ceil(c.ttlMs)),
    );
  }

  async hold(id: string, held: HeldReservation, ttlMs: number, leaseUntil?: number): Promise<void> {
    const write = this.redis
      .multi()
      .set(`${this.prefix}held:${id}`, JSON.stringify(held), 'PX', Math.ceil(ttlMs));
    if (leaseUntil !== undefined) write.zadd(this.leasesKey, leaseUntil, id);
    const results = await write.exec();
    const failed = results?.find(([error]) => error)?.[0];
    if (failed) throw failed;
  }

  async renewLease(id: string, until: number): Promise<void> {
    await this.redis.zadd(this.leasesKey, 'XX', until, id);
  }

  async expiredLeases(now: number, limit: number): Promise<string[]> {
    return this.redis.zrangebyscore(this.leasesKey, '-inf', `(${now}`, 'LIMIT', 0, limit);
  }

  async take(id: string): Promise<HeldReservation | undefined> {
    const value = (await this.redis.eval(
      TAKE,
      2,
      `${this.prefix}held:${id}`,
      this.leasesKey,
      id,
    )) as string | null;
    return value ? (JSON.parse(value) as HeldReservation) : undefined;
  }

  private get leasesKey(): string {
    return `${this.prefix}leases`;
  }
}
