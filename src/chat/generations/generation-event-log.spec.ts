import Redis from 'ioredis';
import { randomUUID } from 'node:crypto';
import { describeWithServices, serviceUrl } from '@app/testing';
import type { GenerationEvent, GenerationEventLog } from './generation-event-log';
import { MemoryGenerationEventLog } from './memory-generation-event-log';
import { RedisGenerationEventLog } from './redis-generation-event-log';
import { TieredGenerationEventLog } from './tiered-generation-event-log';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const owner = { userId: 'alice', sessionId: 's1' };

const start: GenerationEvent = { seq: 1, type: 'start', data: { message_id: 'm1' } };
const delta = (seq: number, text: string): GenerationEvent => ({
  seq,
  type: 'delta',
  data: { text },
});
const done = (seq: number): GenerationEvent => ({ seq, type: 'done', data: { message_id: 'm1' } });

async function collect(events: AsyncIterable<GenerationEvent>): Promise<GenerationEvent[]> {
  const seen: GenerationEvent[] = [];
  for await (const event of events) seen.push(event);
  return seen;
}

function logContract(make: (ttlSeconds: number) => GenerationEventLog) {
  let sut: GenerationEventLog;
  beforeEach(() => {
    sut = make(1);
  });
  afterEach(() => sut.close());

  it('knows the owner of an open generation, and nothing of an unknown one', async () => {
    const id = randomUUID();
    await sut.open(id, owner);
    expect(await sut.owner(id)).toEqual(owner);
    expect(await sut.owner(randomUUID())).toBeNull();
  });

  it('replays a finished generation after a sequence number', async () => {
    const id = randomUUID();
    await sut.open(id, owner);
    await Promise.all(
      [start, delta(2, 'Hel'), delta(3, 'lo'), done(4)].map(async (e) => sut.append(id, e)),
    );
    expect(await collect(sut.read(id, 0))).toEqual([
      start,
      delta(2, 'Hel'),
      delta(3, 'lo'),
      done(4),
    ]);
    expect(await collect(sut.read(id, 2))).toEqual([delta(3, 'lo'), done(4)]);
    expect(await collect(sut.read(id, 4))).toEqual([]);
  });

  it('tails a running generation: the missed events, then the live ones, until the end', async () => {
    const id = randomUUID();
    await sut.open(id, owner);
    await sut.append(id, start);
    await sut.append(id, delta(2, 'a'));
    const reading = collect(sut.read(id, 1));
    await sleep(50);
    await sut.append(id, delta(3, 'b'));
    await sleep(20);
    await sut.append(id, done(4));
    expect(await reading).toEqual([delta(2, 'a'), delta(3, 'b'), done(4)]);
  });

  it('ends a tail when its signal aborts', async () => {
    const id = randomUUID();
    await sut.open(id, owner);
    await sut.append(id, start);
    const controller = new AbortController();
    const reading = collect(sut.read(id, 0, controller.signal));
    await sleep(50);
    controller.abort();
    expect(await reading).toEqual([start]);
  });

  it('ends an interrupted generation with a final event after the last one, once', async () => {
    const id = randomUUID();
    await sut.open(id, owner);
    await sut.append(id, start);
    await sut.append(id, delta(2, 'a'));
    const reading = collect(sut.read(id, 1));
    const final = { type: 'error' as const, data: { detail: 'interrupted' } };
    await sut.interrupt(id, final);
    await sut.interrupt(id, final);
    await sut.interrupt(randomUUID(), final);
    expect(await reading).toEqual([delta(2, 'a'), { seq: 3, ...final }]);
  });

  it('forgets a finished generation after the ttl', async () => {
    const id = randomUUID();
    await sut.open(id, owner);
    await sut.append(id, start);
    await sut.append(id, done(2));
    await sleep(1_200);
    expect(await sut.owner(id)).toBeNull();
    expect(await collect(sut.read(id, 0))).toEqual([]);
  });

  it('serves many concurrent tails in order without duplicates', async () => {
    const id = randomUUID();
    await sut.open(id, owner);
    await sut.append(id, start);
    const readers = Array.from({ length: 20 }, (_, i) => collect(sut.read(id, i % 2)));
    for (let seq = 2; seq <= 40; seq++) void sut.append(id, delta(seq, String(seq)));
    await sut.append(id, done(41));
    for (const [i, events] of (await Promise.all(readers)).entries()) {
      expect(events.map((e) => e.seq)).toEqual(
        Array.from({ length: 41 - (i % 2) }, (_, k) => k + 1 + (i % 2)),
      );
    }
  });
}

describe(MemoryGenerationEventLog.name, () => {
  logContract((ttl) => new MemoryGenerationEventLog(ttl));
});

describeWithServices(['redis'], RedisGenerationEventLog.name, () => {
  let redis: Redis;
  beforeAll(() => {
    redis = new Redis(serviceUrl('redis')!);
  });
  afterAll(() => redis.quit());
  logContract((ttl) => new RedisGenerationEventLog(redis, ttl, `test:gen:${randomUUID()}:`));

  describe(TieredGenerationEventLog.name, () => {
    logContract(
      (ttl) =>
        new TieredGenerationEventLog(
          new RedisGenerationEventLog(redis, ttl, `test:gen:${randomUUID()}:`),
          ttl,
        ),
    );

    it('serves another instance from Redis and its own resumes from memory', async () => {
      const prefix = `test:gen:${randomUUID()}:`;
      const other = new Redis(serviceUrl('redis')!);
      const ownerLog = new TieredGenerationEventLog(
        new RedisGenerationEventLog(redis, 60, prefix),
        60,
      );
      const elsewhere = new TieredGenerationEventLog(
        new RedisGenerationEventLog(other, 60, prefix),
        60,
      );
      const id = randomUUID();
      await ownerLog.open(id, owner);
      await ownerLog.append(id, start);
      await ownerLog.append(id, done(2));
      // Gone from Redis: the owner still resumes it from memory, another instance cannot.
      await redis.del(`${prefix}${id}:events`, `${prefix}${id}:owner`);
      expect(await collect(ownerLog.read(id, 0))).toEqual([start, done(2)]);
      expect(await elsewhere.owner(id)).toBeNull();
      await other.quit();
      await ownerLog.close();
    });

    it('keeps a generation resumable here when Redis fails', async () => {
      const broken = new Redis(serviceUrl('redis')!, {
        lazyConnect: true,
        enableOfflineQueue: false,
      });
      const sut = new TieredGenerationEventLog(new RedisGenerationEventLog(broken, 60), 60);
      const id = randomUUID();
      await sut.open(id, owner);
      await sut.append(id, start);
      await sut.append(id, done(2));
      expect(await collect(sut.read(id, 0))).toEqual([start, done(2)]);
      await sut.close();
      broken.disconnect();
    });
  });

  it('lets another connection (another instance) resume what one wrote', async () => {
    const prefix = `test:gen:${randomUUID()}:`;
    const other = new Redis(serviceUrl('redis')!);
    const writer = new RedisGenerationEventLog(redis, 60, prefix);
    const reader = new RedisGenerationEventLog(other, 60, prefix);
    const id = randomUUID();
    await writer.open(id, owner);
    await writer.append(id, start);
    const reading = collect(reader.read(id, 0));
    await sleep(50);
    await writer.append(id, done(2));
    expect(await reading).toEqual([start, done(2)]);
    expect(await reader.owner(id)).toEqual(owner);
    expect(await redis.ttl(`${prefix}${id}:events`)).toBeGreaterThan(50);
    await other.quit();
  });
});
