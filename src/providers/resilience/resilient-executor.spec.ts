import { Logger, type LoggerService } from '@nestjs/common';
import { providerTestConfig } from '@app/testing/provider-test-config';
import type {
  ChatProvider,
  ProviderCompletion,
  ProviderRequest,
  ProviderStreamEvent,
} from '../chat-provider.interface';
import type { GenerationRequest, GenerationResult } from '../generation.types';
import {
  GenerationAbortedError,
  ProviderError,
  ProviderTimeoutError,
  UpstreamError,
} from '../provider.errors';
import { ProviderRegistry } from '../provider-registry';
import { ProviderCallRecorder } from './provider-call-recorder';
import { ResilientExecutor } from './resilient-executor';

/** What was logged, as JSON lines. */
class CapturingLogger implements LoggerService {
  readonly lines: string[] = [];
  log(...args: unknown[]) {
    this.lines.push(JSON.stringify(args));
  }
  warn(...args: unknown[]) {
    this.lines.push(JSON.stringify(args));
  }
  error(...args: unknown[]) {
    this.lines.push(JSON.stringify(args));
  }
}

/** One scripted upstream reply: text, or a failure thrown before any token. */
type Reply = { text: string } | { fail: Error } | { hang: true };

const USAGE = { promptTokens: 3, completionTokens: 2, totalTokens: 5 };
const MESSAGES = [{ role: 'user' as const, content: 'hello' }];

/**
 * The groq adapter replaced by a script (both of its calls), recording which call each attempt
 * made; everything else (registry, pools, breakers, timers, local provider) is real.
 */
function setUp(env: Record<string, string> = {}) {
  const config = providerTestConfig({ AI_SERVICES__GROQ_API_KEY: 'groq-secret-one', ...env });
  const registry = new ProviderRegistry(config);
  const groq = registry.get('groq')!.provider;
  const script: Reply[] = [];
  const calls: { mode: 'complete' | 'stream'; apiKey?: string }[] = [];
  const next = (request: ProviderRequest): Promise<{ text: string }> => {
    const reply = script.shift() ?? { text: 'fine' };
    if ('hang' in reply) {
      return new Promise((_, reject) =>
        request.signal!.addEventListener('abort', () => reject(new Error('aborted')), {
          once: true,
        }),
      );
    }
    request.onResponse?.();
    return 'fail' in reply ? Promise.reject(reply.fail) : Promise.resolve(reply);
  };
  jest
    .spyOn(groq, 'complete')
    .mockImplementation(async (request, apiKey): Promise<ProviderCompletion> => {
      calls.push({ mode: 'complete', apiKey });
      const { text } = await next(request);
      return { text, model: `groq/${request.model}`, usage: USAGE, finishReason: 'stop' };
    });
  jest.spyOn(groq, 'stream').mockImplementation(async function* (
    request,
    apiKey,
  ): AsyncGenerator<ProviderStreamEvent> {
    calls.push({ mode: 'stream', apiKey });
    const { text } = await next(request);
    for (const word of text.split(/(?<= )/)) yield { type: 'delta', text: word };
    yield { type: 'done', usage: USAGE, finishReason: 'stop' };
  } as ChatProvider['stream']);
  const sut = new ResilientExecutor(config, registry, new ProviderCallRecorder());
  return { sut, script, calls, groq };
}

type Mode = 'complete' | 'stream';

/** Runs one generation in `mode`; a stream is collected into the same shape as complete(). */
async function generate(
  sut: ResilientExecutor,
  mode: Mode,
  request: Partial<GenerationRequest> = {},
): Promise<GenerationResult> {
  const full = { messages: MESSAGES, ...request };
  if (mode === 'complete') return sut.complete(full);
  let text = '';
  for await (const event of sut.stream(full)) {
    if (event.type === 'delta') text += event.text;
    if (event.type === 'done') {
      return { text, model: event.model, usage: event.usage, finishReason: event.finishReason };
    }
  }
  throw new Error('stream ended without done');
}

async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a rejection');
}

describe(ResilientExecutor.name, () => {
  let logs: CapturingLogger;

  beforeEach(() => {
    logs = new CapturingLogger();
    Logger.overrideLogger(logs);
  });

  afterEach(() => jest.restoreAllMocks());

  describe.each<Mode>(['complete', 'stream'])('the same rules for %s', (mode) => {
    it('makes the matching adapter call and answers with the model that replied', async () => {
      const { sut, calls } = setUp();
      const result = await generate(sut, mode, { model: 'groq/llama-3.1-8b-instant' });
      expect(result).toEqual({
        text: 'fine',
        model: 'groq/llama-3.1-8b-instant',
        usage: USAGE,
        finishReason: 'stop',
      });
      expect(calls).toEqual([{ mode, apiKey: 'groq-secret-one' }]);
    });

    it('retries a server error and a malformed reply, then answers', async () => {
      const { sut, script, calls } = setUp({ AI_SERVICES__MAX_RETRIES: '2' });
      script.push(
        { fail: new UpstreamError('server', 'upstream 500', { status: 500 }) },
        { fail: new UpstreamError('malformed', 'not JSON') },
        { text: 'third time lucky' },
      );
      expect((await generate(sut, mode)).text).toBe('third time lucky');
      expect(calls).toHaveLength(3);
    });

    it('never retries a refused request: 502 naming the model', async () => {
      const { sut, script, calls } = setUp({ AI_SERVICES__MAX_RETRIES: '3' });
      script.push({ fail: new UpstreamError('bad_request', 'bad', { status: 400 }) });
      const error = await rejection(generate(sut, mode));
      expect(error).toBeInstanceOf(ProviderError);
      expect(error.message).toBe('Model groq/llama-3.1-8b-instant rejected the request');
      expect(calls).toHaveLength(1);
    });

    it('rotates a refused key to the next one without counting a retry', async () => {
      const { sut, script, calls } = setUp({
        AI_SERVICES__GROQ_API_KEY_1: 'groq-secret-two',
        AI_SERVICES__MAX_RETRIES: '0',
      });
      script.push({ fail: new UpstreamError('auth', 'no', { status: 401 }) });
      expect((await generate(sut, mode)).text).toBe('fine');
      expect(calls.map((call) => call.apiKey)).toEqual(['groq-secret-one', 'groq-secret-two']);
    });

    it('falls back to the next model when the first fails before any token', async () => {
      const { sut, script } = setUp({
        AI_SERVICES__MAX_RETRIES: '0',
        AI_SERVICES__FALLBACK_MODELS: 'local/echo',
      });
      script.push({ fail: new UpstreamError('server', 'upstream 503', { status: 503 }) });
      const result = await generate(sut, mode);
      expect(result.model).toBe('local/echo');
      expect(result.text).toContain('You said: "hello"');
      expect(logs.lines.join('\n')).toContain('Falling back to the next model');
    });

    it('bounds the wait for the first token (or the whole reply): retried, then 504', async () => {
      const { sut, script, calls } = setUp({
        AI_SERVICES__MAX_RETRIES: '1',
        AI_SERVICES__FIRST_TOKEN_TIMEOUT_MS: '30',
      });
      script.push({ hang: true }, { hang: true });
      const error = await rejection(generate(sut, mode));
      expect(error).toBeInstanceOf(ProviderTimeoutError);
      expect(error.message).toBe('Model groq/llama-3.1-8b-instant did not answer in time');
      expect(calls).toHaveLength(2);
    });

    it('ends with GenerationAbortedError when the caller aborts, without retrying', async () => {
      const { sut, script, calls } = setUp({ AI_SERVICES__MAX_RETRIES: '3' });
      script.push({ hang: true });
      const controller = new AbortController();
      setTimeout(() => controller.abort(), 20);
      const error = await rejection(generate(sut, mode, { signal: controller.signal }));
      expect(error).toBeInstanceOf(GenerationAbortedError);
      expect(calls).toHaveLength(1);
      expect(logs.lines.join('\n')).toContain('"detail":"aborted by the caller"');
    });

    it('masks the keys of every registered provider in what it logs', async () => {
      const { sut, script } = setUp({
        AI_SERVICES__OPENAI_COMPATIBLE_BASE_URL: 'http://127.0.0.1:1/v1',
        AI_SERVICES__OPENAI_COMPATIBLE_MODELS: 'llama3.2:3b',
        AI_SERVICES__OPENAI_COMPATIBLE_API_KEY: 'ollama-secret',
        AI_SERVICES__MAX_RETRIES: '1',
      });
      script.push({
        fail: new UpstreamError('server', 'keys groq-secret-one and ollama-secret refused'),
      });
      await generate(sut, mode);
      const all = logs.lines.join('\n');
      expect(all).toContain('keys [key] and [key] refused');
      expect(all).not.toContain('secret');
    });
  });

  it('logs whether an attempt was streamed, with a time to first token only when it was', async () => {
    const { sut } = setUp();
    await generate(sut, 'complete', { userId: 'user-7' });
    await generate(sut, 'stream', { userId: 'user-7' });
    const calls = logs.lines
      .filter((line) => line.includes('Provider call success'))
      .map((line) => (JSON.parse(line) as [Record<string, unknown>])[0]);
    expect(calls).toHaveLength(2);
    expect(calls[0]).toMatchObject({ stream: false, userId: 'user-7', promptTokens: 3 });
    expect(calls[0]).not.toHaveProperty('ttftMs');
    expect(calls[1]).toMatchObject({ stream: true, ttftMs: expect.any(Number) });
  });

  it('a stream that fails after text was sent is neither retried nor sent to a fallback', async () => {
    const { sut, groq } = setUp({
      AI_SERVICES__MAX_RETRIES: '2',
      AI_SERVICES__FALLBACK_MODELS: 'local/echo',
    });
    const stream = jest.spyOn(groq, 'stream').mockImplementation(async function* () {
      yield { type: 'delta', text: 'half ' };
      throw new UpstreamError('network', 'connection reset');
    } as ChatProvider['stream']);
    const events: string[] = [];
    const error = await rejection(
      (async () => {
        for await (const event of sut.stream({ messages: MESSAGES })) events.push(event.type);
      })(),
    );
    expect(events).toEqual(['start', 'delta']);
    expect(error).toBeInstanceOf(ProviderError);
    expect(error.message).toBe(
      'The connection to the provider of groq/llama-3.1-8b-instant failed',
    );
    expect(stream).toHaveBeenCalledTimes(1);
  });
});
