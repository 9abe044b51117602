import { Logger } from '@nestjs/common';
import { ChatTurnDeps, newChatTurnDeps } from '../../../test/factories/chat-turn.factory';
import { sessionLockKey } from '../turn/chat-turn-preflight';
import type { GenerationEvent } from './generation-event-log';
import { InterruptedReplySweeper } from './interrupted-reply-sweeper';
import type { PendingReplyKeys } from './pending-reply-keys';

const reply = (sessionId: string) => ({
  messageId: `m-${sessionId}`,
  sessionId,
  userId: 'alice',
  content: 'Half a reply',
  model: 'test/model',
  createdAt: new Date('2026-01-01T00:00:00Z'),
});

describe(InterruptedReplySweeper.name, () => {
  let deps: ChatTurnDeps;
  let sut: InterruptedReplySweeper;
  const newSweeper = (replyKeys?: Pick<PendingReplyKeys, 'take'>) =>
    new InterruptedReplySweeper(
      deps.history,
      deps.quota,
      deps.locks,
      deps.registry,
      deps.events,
      undefined,
      replyKeys as PendingReplyKeys | undefined,
    );

  beforeEach(() => {
    deps = newChatTurnDeps();
    deps.history.pendingReplies = jest.fn();
    deps.history.finishPendingReply = jest.fn().mockResolvedValue(true);
    deps.registry.isRunningHere = jest.fn().mockReturnValue(false);
    sut = newSweeper();
    jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
  });
  afterEach(async () => {
    jest.restoreAllMocks();
    await deps.locks.close();
  });

  it('stores a pending reply whose lease (session lock) is gone as interrupted, charges it, ends its events', async () => {
    deps.history.pendingReplies.mockResolvedValue([reply('s1')]);
    await deps.events.open('m-s1', { userId: 'alice', sessionId: 's1' });
    deps.events.append('m-s1', { seq: 1, type: 'start', data: {} });

    expect(await sut.sweep()).toBe(1);

    expect(deps.history.finishPendingReply).toHaveBeenCalledWith('s1', 'm-s1', {
      status: 'error',
      error: 'interrupted',
      completionTokens: expect.any(Number),
    });
    // No PendingReplyKeys here: the turn was made without an API key.
    expect(deps.quota.recordUsage).toHaveBeenCalledWith('alice', expect.any(Number), undefined);
    const events: GenerationEvent[] = [];
    for await (const event of deps.events.read('m-s1', 0)) events.push(event);
    expect(events.at(-1)).toEqual({
      seq: 2,
      type: 'error',
      data: expect.objectContaining({ detail: 'interrupted', message_id: 'm-s1' }),
    });
  });

  it('leaves replies whose owner still holds the lease, and ones another instance finished', async () => {
    deps.history.pendingReplies.mockResolvedValue([reply('held'), reply('raced')]);
    await deps.locks.acquire(sessionLockKey('held'), 30_000);
    deps.history.finishPendingReply.mockResolvedValue(false);

    expect(await sut.sweep()).toBe(0);

    expect(deps.history.finishPendingReply).toHaveBeenCalledTimes(1);
    expect(deps.quota.recordUsage).not.toHaveBeenCalled();
  });

  it('charges the API key the turn was made with too, once the reply is stored as interrupted', async () => {
    const replyKeys = { take: jest.fn().mockResolvedValue('key-1') };
    sut = newSweeper(replyKeys);
    deps.history.pendingReplies.mockResolvedValue([reply('s1')]);

    expect(await sut.sweep()).toBe(1);

    expect(replyKeys.take).toHaveBeenCalledWith('m-s1');
    expect(deps.quota.recordUsage).toHaveBeenCalledWith('alice', expect.any(Number), 'key-1');
  });
});
