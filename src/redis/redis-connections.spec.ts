import { once } from 'node:events';
import { randomUUID } from 'node:crypto';
import { Logger } from '@nestjs/common';
import { describeWithServices, freePort, serviceUrl } from '@app/testing';
import { RedisConnections } from './redis-connections';

describe(`${RedisConnections.name} with Redis unreachable`, () => {
  let sut: RedisConnections;
  let warn: jest.SpyInstance;

  beforeEach(async () => {
    warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    sut = new RedisConnections(`redis://127.0.0.1:${await freePort()}`);
  });
  afterEach(async () => {
    await sut.onApplicationShutdown();
    warn.mockRestore();
  });

  it('fails commands at once after the first connection attempt', async () => {
    await expect(sut.commands.ping()).rejects.toThrow();
    // Refused without queueing (a queued command would wait for reconnection attempts and end
    // with "Reached the max retries per request limit").
    await expect(sut.commands.ping()).rejects.toThrow(/enableOfflineQueue options is false/);
  });

  it('warns once per connection while it stays down, not on every reconnection attempt', async () => {
    sut.subscriber('test subscriber');
    // ioredis retries after 50, 100, 150… ms: several failed attempts per connection.
    await new Promise((resolve) => setTimeout(resolve, 800));
    const roles = warn.mock.calls.map(([fields]) => (fields as { role: string }).role);
    expect(roles.sort()).toEqual(['commands', 'test subscriber']);
  });
});

describeWithServices(['redis'], `${RedisConnections.name} with Redis up`, () => {
  let sut: RedisConnections;
  beforeEach(() => {
    sut = new RedisConnections(serviceUrl('redis')!);
  });
  afterEach(() => sut.onApplicationShutdown());

  it('delivers what the command connection publishes to a subscriber connection', async () => {
    const channel = `test:redis-connections:${randomUUID()}`;
    const subscriber = sut.subscriber('test subscriber');
    await subscriber.subscribe(channel);
    const received = once(subscriber, 'message');
    await sut.commands.publish(channel, 'hello');
    expect(await received).toEqual([channel, 'hello']);
  });

  it('gives a dedicated connection its own settings', async () => {
    const probe = sut.dedicated('probe', { connectionName: 'chatbot-test-probe' });
    expect(await probe.client('GETNAME')).toBe('chatbot-test-probe');
  });

  it('closes every connection it made at shutdown', async () => {
    const connections = [
      sut.commands,
      sut.commandConnection('test publish'),
      sut.subscriber('test subscriber'),
      sut.dedicated('probe', {}),
    ];
    await Promise.all(connections.map((connection) => connection.ping()));
    const ended = Promise.all(connections.map((connection) => once(connection, 'end')));
    await sut.onApplicationShutdown();
    await ended;
    expect(connections.map((connection) => connection.status)).toEqual([
      'end',
      'end',
      'end',
      'end',
    ]);
  });
});
