import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { AppConfig } from '@app/config';
import type { RedisConnections } from '../redis/redis-connections';
import {
  GenerationRegistry,
  REMOTE_RESUME_LEASE_MS,
  REMOTE_RESUME_RENEW_MS,
} from './generation-registry';

const configWithWindow = (ms: number) =>
  AppConfig.fromEnv({
    SECRET_KEY: randomBytes(32).toString('hex'),
    CHAT__RESUME_WINDOW_MS: String(ms),
  });

describe(GenerationRegistry.name, () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('aborts at once when the last client leaves and the window is 0', () => {
    const sut = new GenerationRegistry(configWithWindow(0));
    const controller = sut.register('s1', 'alice', 'm1');
    sut.leave(controller);
    expect(controller.signal.reason).toBe('client_disconnected');
  });

  it('keeps a left generation running for the window, then aborts it', () => {
    const sut = new GenerationRegistry(configWithWindow(30_000));
    const controller = sut.register('s1', 'alice', 'm1');
    sut.leave(controller);
    jest.advanceTimersByTime(29_999);
    expect(controller.signal.aborted).toBe(false);
    jest.advanceTimersByTime(1);
    expect(controller.signal.reason).toBe('client_disconnected');
  });

  it('a resume within the window keeps it running until that client leaves too', async () => {
    const sut = new GenerationRegistry(configWithWindow(1_000));
    const controller = sut.register('s1', 'alice', 'm1');
    sut.leave(controller);
    jest.advanceTimersByTime(500);
    await sut.attach('m1');
    jest.advanceTimersByTime(5_000);
    expect(controller.signal.aborted).toBe(false);
    await sut.detach('m1');
    jest.advanceTimersByTime(1_000);
    expect(controller.signal.aborted).toBe(true);
  });

  it('the abort endpoint still stops a generation at once', async () => {
    const sut = new GenerationRegistry(configWithWindow(30_000));
    const controller = sut.register('s1', 'alice', 'm1');
    expect(await sut.abort('s1', 'user_request')).toBe(true);
    expect(controller.signal.reason).toBe('user_request');
  });

  it('forgets a finished generation: its window no longer fires', () => {
    const sut = new GenerationRegistry(configWithWindow(1_000));
    const controller = sut.register('s1', 'alice', 'm1');
    sut.leave(controller);
    sut.unregister('s1', controller);
    jest.advanceTimersByTime(2_000);
    expect(controller.signal.aborted).toBe(false);
  });

  describe('resumes served by another instance (over Redis)', () => {
    /** Stands in for Redis pub/sub between two registries: what one publishes the other hears. */
    class PubSub {
      readonly published: [string, string][] = [];
      private readonly subscribers: EventEmitter[] = [];

      connections(): RedisConnections {
        const subscriber = Object.assign(new EventEmitter(), {
          psubscribe: () => Promise.resolve(),
        });
        this.subscribers.push(subscriber);
        const publish = (channel: string, message: string) => {
          this.published.push([channel, message]);
          for (const each of this.subscribers) each.emit('pmessage', '', channel, message);
          return Promise.resolve(1);
        };
        return {
          subscriber: () => subscriber,
          commands: { publish },
        } as unknown as RedisConnections;
      }
    }

    function twoInstances(windowMs: number) {
      const pubSub = new PubSub();
      const owner = new GenerationRegistry(configWithWindow(windowMs), pubSub.connections());
      const other = new GenerationRegistry(configWithWindow(windowMs), pubSub.connections());
      owner.onApplicationBootstrap();
      other.onApplicationBootstrap();
      return { pubSub, owner, other };
    }

    it('count on the owner while renewed, and stop counting once the resume ends', async () => {
      const { owner, other } = twoInstances(1_000);
      const controller = owner.register('s1', 'alice', 'm1');
      owner.leave(controller);
      await other.attach('m1');
      jest.advanceTimersByTime(REMOTE_RESUME_LEASE_MS * 3);
      expect(controller.signal.aborted).toBe(false);

      await other.detach('m1');
      jest.advanceTimersByTime(999);
      expect(controller.signal.aborted).toBe(false);
      jest.advanceTimersByTime(1);
      expect(controller.signal.reason).toBe('client_disconnected');
    });

    it('stop counting when their instance stops renewing (it died): the window runs then', async () => {
      const { owner, other } = twoInstances(1_000);
      const controller = owner.register('s1', 'alice', 'm1');
      owner.leave(controller);
      await other.attach('m1');
      other.onApplicationShutdown(); // no more renewals, as if the process was gone

      jest.advanceTimersByTime(REMOTE_RESUME_LEASE_MS - 1);
      expect(controller.signal.aborted).toBe(false);
      jest.advanceTimersByTime(REMOTE_RESUME_RENEW_MS + 1_000);
      expect(controller.signal.reason).toBe('client_disconnected');
    });

    it('the serving instance renews its count every few seconds and sends 0 when done', async () => {
      const { pubSub, owner, other } = twoInstances(1_000);
      owner.register('s1', 'alice', 'm1');
      await other.attach('m1');
      await other.attach('m1');
      jest.advanceTimersByTime(REMOTE_RESUME_RENEW_MS);
      await other.detach('m1');
      await other.detach('m1');
      const counts = pubSub.published
        .filter(([channel]) => channel === 'chat:clients:m1')
        .map(([, message]) => Number(message.split(' ')[1]));
      expect(counts).toEqual([1, 2, 2, 1, 0]);
      owner.onApplicationShutdown();
      other.onApplicationShutdown();
    });
  });
});
