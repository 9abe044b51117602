import { Logger } from '@nestjs/common';
import {
  GenerationAbortedError,
  ProviderError,
  ProviderUnavailableError,
} from '../../providers/provider.errors';
import {
  ChatTurnDeps,
  newChatTurnDeps,
  providerStream,
} from '../../../test/factories/chat-turn.factory';
import { ChatEvent, eventPayload } from '../chat-events';
import { fromStoredResult } from '../chat-turn';
import type { IdempotencyRecord } from '../idempotency/idempotency-store';
import { ReplayedTurn } from './replayed-turn';
import { PreparedTurn, sessionLockKey } from './chat-turn-preflight';
import { ChatTurnRunner } from './chat-turn-runner';
import { CalculatorTool } from '../../tools/calculator.tool';
import { ServerToolRegistry } from '../../tools/server-tool-registry';

const SESSION_ID = '3f2b8a5e-2c1d-4b7a-9e0f-1a2b3c4d5e6f';
const MESSAGE_ID = '9c1e8a5e-2c1d-4b7a-9e0f-1a2b3c4d5e6f';

describe(ChatTurnRunner.name, () => {
  let deps: ChatTurnDeps;
  let sut: ChatTurnRunner;
  let events: ChatEvent[];

  /** A turn as the preflight leaves it: session locked, generation registered. */
  const preparedTurn = async (overrides: Partial<PreparedTurn> = {}): Promise<PreparedTurn> => ({
    userId: 'alice',
    sessionId: SESSION_ID,
    messageId: MESSAGE_ID,
    createdAt: new Date('2026-01-01T00:00:00Z'),
    model: 'test/model',
    messages: [{ role: 'user', content: 'Hello' }],
    promptTokens: 7,
    input: { message: 'Hello' },
    controller: new AbortController(),
    lock: (await deps.locks.acquire(sessionLockKey(SESSION_ID), 30_000))!,
    firstExchange: false,
    ...overrides,
  });

  /** What a transport sends: `type` plus the wire payload. */
  const wire = () => events.map((event) => ({ type: event.type, ...eventPayload(event) }));

  /** A runner on the current `deps`, with the server-side tools of `serverTools`, if given. */
  const newRunner = (serverTools?: ServerToolRegistry) =>
    new ChatTurnRunner(
      deps.history,
      deps.providers,
      deps.quota,
      deps.titles,
      deps.idempotency,
      deps.registry,
      deps.config,
      deps.events,
      deps.writes,
      deps.checkpoints,
      undefined,
      undefined,
      serverTools,
    );

  beforeEach(() => {
    deps = newChatTurnDeps();
    sut = newRunner();
    events = [];
    jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
  });

  afterEach(async () => {
    jest.restoreAllMocks();
    await deps.writes.onApplicationShutdown();
    await deps.checkpoints.onApplicationShutdown();
    await deps.locks.close();
  });

  it('streams a complete reply, stores it, charges the usage and frees the session', async () => {
    deps.providers.stream.mockReturnValue(
      providerStream([
        { type: 'delta', text: 'Hel' },
        { type: 'delta', text: 'lo!' },
      ]),
    );
    const turn = await preparedTurn();

    const outcome = await sut.run(turn, (event) => events.push(event));

    expect(wire()).toEqual([
      { type: 'start', session_id: SESSION_ID, message_id: MESSAGE_ID, model: 'test/model' },
      { type: 'delta', text: 'Hel' },
      { type: 'delta', text: 'lo!' },
      {
        type: 'done',
        message_id: MESSAGE_ID,
        usage: { prompt_tokens: 10, completion_tokens: 5, tokens: 15 },
        finish_reason: 'stop',
        model: 'test/model',
      },
    ]);
    expect(outcome).toMatchObject({ reply: 'Hello!', finish_reason: 'stop' });
    expect(outcome.failure).toBeUndefined();
    expect(deps.history.finishReply).toHaveBeenCalledWith(SESSION_ID, MESSAGE_ID, {
      content: 'Hello!',
      status: 'complete',
      model: 'test/model',
      promptTokens: 10,
      completionTokens: 5,
      error: null,
    });
    expect(deps.quota.recordUsage).toHaveBeenCalledWith('alice', 15, undefined);
    expect(deps.registry.unregister).toHaveBeenCalledWith(SESSION_ID, turn.controller);
    expect(await deps.locks.isHeld(sessionLockKey(SESSION_ID))).toBe(false);
  });

  it('stores a provider failure as `error` with the partial text and ends with an error event', async () => {
    deps.providers.stream.mockReturnValue(
      providerStream([{ type: 'delta', text: 'Part' }], new ProviderError()),
    );
    const turn = await preparedTurn();

    const outcome = await sut.run(turn, (event) => events.push(event));

    expect(wire().at(-1)).toEqual({
      type: 'error',
      detail: 'The AI provider returned an error; please try again',
      status: 502,
      message_id: MESSAGE_ID,
    });
    expect(outcome.failure).toBeInstanceOf(ProviderError);
    expect(outcome.finish_reason).toBe('error');
    expect(deps.history.finishReply).toHaveBeenCalledWith(
      SESSION_ID,
      MESSAGE_ID,
      expect.objectContaining({
        content: 'Part',
        status: 'error',
        error: 'The AI provider returned an error; please try again',
      }),
    );
    // The partial text was generated, so its estimated tokens are charged.
    expect(deps.quota.recordUsage).toHaveBeenCalledWith('alice', expect.any(Number), undefined);
    expect(await deps.locks.isHeld(sessionLockKey(SESSION_ID))).toBe(false);
  });

  it('keeps Retry-After of a 503 for the live answer', async () => {
    deps.providers.stream.mockReturnValue(
      providerStream([], new ProviderUnavailableError(undefined, 12)),
    );

    const outcome = await sut.run(await preparedTurn(), (event) => events.push(event));

    expect(outcome.failure?.status).toBe(503);
    expect(outcome.failure?.retryAfterSeconds).toBe(12);
    expect(deps.quota.recordUsage).not.toHaveBeenCalled();
  });

  it('reports an unexpected error as a generic 500 without its message', async () => {
    deps.providers.stream.mockReturnValue(providerStream([], new TypeError('x is undefined')));

    await sut.run(await preparedTurn(), (event) => events.push(event));

    expect(wire().at(-1)).toEqual({
      type: 'error',
      detail: 'Internal server error',
      status: 500,
      message_id: MESSAGE_ID,
    });
    expect(deps.history.finishReply).toHaveBeenCalledWith(
      SESSION_ID,
      MESSAGE_ID,
      expect.objectContaining({ status: 'error', error: 'Internal server error' }),
    );
  });

  it('stores an aborted reply as `aborted` and ends with done', async () => {
    const controller = new AbortController();
    deps.providers.stream.mockImplementation(async function* () {
      yield { type: 'start', model: 'test/model' };
      yield { type: 'delta', text: 'Half' };
      controller.abort('user_request');
      throw new GenerationAbortedError();
    });

    const outcome = await sut.run(await preparedTurn({ controller }), (e) => events.push(e));

    expect(wire().at(-1)).toMatchObject({ type: 'done', finish_reason: 'aborted' });
    expect(outcome.failure).toBeUndefined();
    expect(deps.history.finishReply).toHaveBeenCalledWith(
      SESSION_ID,
      MESSAGE_ID,
      expect.objectContaining({ content: 'Half', status: 'aborted', error: null }),
    );
    expect(await deps.locks.isHeld(sessionLockKey(SESSION_ID))).toBe(false);
  });

  it('still answers when the reply cannot be stored, and stores it once the store is back', async () => {
    deps.history.finishReply
      .mockRejectedValueOnce(new Error('database down'))
      .mockResolvedValue(undefined);

    await sut.run(await preparedTurn(), (event) => events.push(event));

    expect(wire().at(-1)).toMatchObject({ type: 'done', finish_reason: 'stop' });
    // The session stays locked (the reply's lease) until its outcome is stored.
    expect(await deps.locks.isHeld(sessionLockKey(SESSION_ID))).toBe(true);
    expect(deps.writes.size).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 700));
    expect(deps.history.finishReply).toHaveBeenCalledTimes(2);
    expect(deps.history.finishReply).toHaveBeenLastCalledWith(
      SESSION_ID,
      MESSAGE_ID,
      expect.objectContaining({ content: 'ok', status: 'complete' }),
    );
    expect(deps.writes.size).toBe(0);
    expect(await deps.locks.isHeld(sessionLockKey(SESSION_ID))).toBe(false);
  });

  describe('Idempotency-Key', () => {
    const claimed = async () => {
      await deps.idempotency.claim('alice:key-1', 'fp', 60);
      return { key: 'alice:key-1', fingerprint: 'fp' };
    };
    const record = () =>
      deps.idempotency.claim('alice:key-1', 'fp', 60) as Promise<IdempotencyRecord>;

    it('remembers a complete outcome for replays, with the sequence number of its final event', async () => {
      const seqs: number[] = [];
      const outcome = await sut.run(
        await preparedTurn({ idempotency: await claimed() }),
        (_event, seq) => seqs.push(seq),
      );

      expect(await record()).toEqual({
        state: 'done',
        fingerprint: 'fp',
        result: { ...outcome, final_seq: seqs.at(-1) },
      });
    });

    it('a replay numbers its events like the original: the whole reply just before the final one', async () => {
      deps.providers.stream.mockReturnValue(
        providerStream(['Hel', 'lo', ' there'].map((text) => ({ type: 'delta' as const, text }))),
      );
      const original: [string, number][] = [];
      await sut.run(await preparedTurn({ idempotency: await claimed() }), (event, seq) =>
        original.push([event.type, seq]),
      );
      const stored = await record();
      if (stored.state !== 'done') throw new Error('expected a finished record');

      const replayed: [string, number][] = [];
      await new ReplayedTurn(stored.result).run((event, seq) => replayed.push([event.type, seq]));

      const finalSeq = original.at(-1)![1];
      expect(original.length).toBeGreaterThan(3);
      expect(replayed).toEqual([
        ['start', 1],
        ['delta', finalSeq - 1],
        ['done', finalSeq],
      ]);
    });

    it('remembers a failure so that its replay answers the same', async () => {
      deps.providers.stream.mockReturnValue(
        providerStream([], new ProviderUnavailableError(undefined, 12)),
      );
      await sut.run(await preparedTurn({ idempotency: await claimed() }), (e) => events.push(e));

      const stored = await record();
      if (stored.state !== 'done') throw new Error('expected a finished record');
      expect(stored.result.error).toEqual({
        kind: 'upstream_unavailable',
        detail: 'The AI provider is temporarily unavailable; please try again later',
      });
      const replayed = fromStoredResult(stored.result);
      expect(
        eventPayload({ type: 'error', error: replayed.failure!, message_id: MESSAGE_ID }),
      ).toEqual(eventPayload(events.at(-1)!));
    });
  });

  describe('generated titles', () => {
    it('are started after a complete first exchange', async () => {
      await sut.run(await preparedTurn({ firstExchange: true }), () => {});

      expect(deps.titles.generateInBackground).toHaveBeenCalledWith({
        userId: 'alice',
        sessionId: SESSION_ID,
        model: 'test/model',
        message: 'Hello',
        reply: 'ok',
      });
    });

    it('are not started after a later exchange or a failed first one', async () => {
      await sut.run(await preparedTurn({ firstExchange: false }), () => {});
      deps.providers.stream.mockReturnValue(providerStream([], new ProviderError()));
      await sut.run(await preparedTurn({ firstExchange: true }), () => {});

      expect(deps.titles.generateInBackground).not.toHaveBeenCalled();
    });
  });

  describe('resumable generations', () => {
    it('numbers the events from 1 and keeps them in the event log under the message id', async () => {
      const seqs: number[] = [];
      await sut.run(await preparedTurn(), (event, seq) => {
        events.push(event);
        seqs.push(seq);
      });

      expect(seqs).toEqual([1, 2, 3]);
      expect(await deps.events.owner(MESSAGE_ID)).toEqual({
        userId: 'alice',
        sessionId: SESSION_ID,
      });
      const logged = [];
      for await (const event of deps.events.read(MESSAGE_ID, 0)) logged.push(event);
      expect(logged).toEqual(wire().map(({ type, ...data }, i) => ({ seq: i + 1, type, data })));
    });

    it('checkpoints the text so far at most every CHAT__CHECKPOINT_MS, before the final write', async () => {
      async function* slowProvider() {
        yield { type: 'start' as const, model: 'test/model' };
        for (const text of ['a', 'b', 'c', 'd']) {
          await new Promise((resolve) => setTimeout(resolve, 30));
          yield { type: 'delta' as const, text };
        }
        yield {
          type: 'done' as const,
          model: 'test/model',
          finishReason: 'stop' as const,
          usage: { promptTokens: 1, completionTokens: 4, totalTokens: 5 },
        };
      }
      deps = newChatTurnDeps({ CHAT__CHECKPOINT_MS: '50' });
      deps.providers.stream.mockReturnValue(slowProvider());
      sut = newRunner();

      await sut.run(await preparedTurn(), () => {});

      const batches = deps.history.checkpointReplies.mock.calls.map(([batch]) => batch);
      expect(batches.length).toBeGreaterThanOrEqual(1);
      expect(batches.length).toBeLessThan(4);
      for (const [checkpoint, ...others] of batches) {
        expect(others).toEqual([]);
        expect(checkpoint).toMatchObject({ sessionId: SESSION_ID, messageId: MESSAGE_ID });
        expect('abcd'.startsWith(checkpoint.content)).toBe(true);
      }
      expect(deps.history.checkpointReplies.mock.invocationCallOrder.at(-1)!).toBeLessThan(
        deps.history.finishReply.mock.invocationCallOrder[0],
      );
    });
  });

  describe('tool calls', () => {
    const weather = { name: 'get_weather', parameters: { type: 'object' } };
    const call = (id: string, name: string, args: string) => ({
      type: 'tool_call' as const,
      call: { id, name, arguments: args },
    });
    /** A runner whose deployment enabled the calculator, with TOOLS__MAX_ROUNDS `maxRounds`. */
    const toolRunner = (maxRounds = '5') => {
      deps = { ...deps, config: newChatTurnDeps({ TOOLS__MAX_ROUNDS: maxRounds }).config };
      const config = {
        ...deps.config,
        tools: { ...deps.config.tools, serverTools: ['calculator'] },
      };
      return newRunner(new ServerToolRegistry([new CalculatorTool()], config));
    };

    it('ends with tool_calls on a client call: the event, the stored call waiting, the tools offered', async () => {
      deps.providers.stream.mockReturnValue(
        providerStream([call('call_1', 'get_weather', '{"city":"Lisbon"}')]),
      );
      const runner = toolRunner();
      const turn = await preparedTurn({ input: { message: 'weather?', tools: [weather] } });

      const outcome = await runner.run(turn, (event) => events.push(event));

      expect(wire().map((e) => e.type)).toEqual(['start', 'tool_call', 'done']);
      expect(wire()[1]).toEqual({
        type: 'tool_call',
        message_id: MESSAGE_ID,
        id: 'call_1',
        name: 'get_weather',
        arguments: '{"city":"Lisbon"}',
      });
      expect(outcome).toMatchObject({
        finish_reason: 'tool_calls',
        tool_calls: [
          {
            id: 'call_1',
            name: 'get_weather',
            arguments: '{"city":"Lisbon"}',
            executed_by: 'client',
            result: null,
          },
        ],
      });
      const offered = deps.providers.stream.mock.calls[0][0].tools!.map((tool) => tool.name);
      expect(offered).toEqual(['get_weather', 'calculator']);
      expect(deps.history.finishReply).toHaveBeenCalledWith(
        SESSION_ID,
        MESSAGE_ID,
        expect.objectContaining({
          status: 'complete',
          toolCalls: [
            {
              id: 'call_1',
              name: 'get_weather',
              arguments: '{"city":"Lisbon"}',
              executedBy: 'client',
              round: 0,
              result: null,
            },
          ],
        }),
      );
    });

    it('runs server-side calls and calls the model again in the same turn, usage summed', async () => {
      deps.providers.stream
        .mockReturnValueOnce(providerStream([call('c1', 'calculator', '{"expression":"6*7"}')]))
        .mockReturnValueOnce(providerStream([{ type: 'delta', text: 'It is 42.' }]));
      const runner = toolRunner();
      const turn = await preparedTurn();

      const outcome = await runner.run(turn, (event) => events.push(event));

      expect(wire().map((e) => e.type)).toEqual([
        'start',
        'tool_call',
        'tool_result',
        'delta',
        'done',
      ]);
      expect(wire()[2]).toEqual({
        type: 'tool_result',
        message_id: MESSAGE_ID,
        tool_call_id: 'c1',
        name: 'calculator',
        content: '42',
        is_error: false,
      });
      expect(outcome).toMatchObject({
        reply: 'It is 42.',
        finish_reason: 'stop',
        usage: { prompt_tokens: 20, completion_tokens: 10, tokens: 30 },
      });
      const second = deps.providers.stream.mock.calls[1][0];
      expect(second.messages.slice(-2)).toEqual([
        {
          role: 'assistant',
          content: '',
          toolCalls: [{ id: 'c1', name: 'calculator', arguments: '{"expression":"6*7"}' }],
        },
        { role: 'tool', content: '42', toolCallId: 'c1', toolName: 'calculator' },
      ]);
      expect(deps.quota.recordUsage).toHaveBeenCalledWith('alice', 30, undefined);
    });

    it('sends the last allowed round without tools (TOOLS__MAX_ROUNDS)', async () => {
      deps.providers.stream
        .mockReturnValueOnce(providerStream([call('c1', 'calculator', '{"expression":"1+1"}')]))
        .mockReturnValueOnce(providerStream([{ type: 'delta', text: 'Two.' }]));
      const runner = toolRunner('2');

      await runner.run(await preparedTurn(), (event) => events.push(event));

      const [first, second] = deps.providers.stream.mock.calls.map(([request]) => request.tools);
      expect(first?.map((tool) => tool.name)).toEqual(['calculator']);
      expect(second).toBeUndefined();
    });

    it('answers server calls of a mixed round, then waits for the client', async () => {
      deps.providers.stream.mockReturnValueOnce(
        providerStream([call('c1', 'calculator', 'not json'), call('c2', 'get_weather', '{}')]),
      );
      const runner = toolRunner();

      const outcome = await runner.run(
        await preparedTurn({ input: { message: 'both', tools: [weather] } }),
        (event) => events.push(event),
      );

      expect(deps.providers.stream).toHaveBeenCalledTimes(1);
      expect(outcome.finish_reason).toBe('tool_calls');
      expect(outcome.tool_calls).toEqual([
        expect.objectContaining({
          id: 'c1',
          executed_by: 'server',
          result: { content: 'The arguments are not valid JSON', is_error: true },
        }),
        expect.objectContaining({ id: 'c2', executed_by: 'client', result: null }),
      ]);
    });
  });
});
