import { Logger, type LoggerService } from '@nestjs/common';
import { mapError } from '@app/common';
import { ProviderSimulator } from '@app/testing';
import type { ProviderMessage } from '../src/providers/chat-provider.interface';
import type { GenerationEvent } from '../src/providers/generation.types';
import {
  GenerationAbortedError,
  ProviderError,
  ProviderTimeoutError,
  ProviderUnavailableError,
} from '../src/providers/provider.errors';
import type { ProvidersService } from '../src/providers/providers.service';
import { drain, providersFor, rejection, textOf } from './factories/provider-layer.factory';

/**
 * The provider layer end to end on the wire: the real `openai` and `@google/genai` SDKs talk
 * HTTP to the provider simulator; every resilience rule is driven by scripted faults.
 */

/** Captures what the providers log, to check that keys never appear in it. */
class CapturingLogger implements LoggerService {
  readonly lines: string[] = [];
  log(...args: unknown[]) {
    this.lines.push(JSON.stringify(args));
  }
  error(...args: unknown[]) {
    this.lines.push(JSON.stringify(args));
  }
  warn(...args: unknown[]) {
    this.lines.push(JSON.stringify(args));
  }
}

const logs = new CapturingLogger();
const USER: ProviderMessage[] = [{ role: 'user', content: 'hello there' }];

let sim: ProviderSimulator;
let url: string;

beforeAll(async () => {
  Logger.overrideLogger(logs);
  sim = new ProviderSimulator();
  url = await sim.start();
});

afterAll(async () => {
  await sim.stop();
});

beforeEach(() => {
  sim.reset();
  logs.lines.length = 0;
});

const providers = providersFor;

function groq(env: Record<string, string> = {}): ProvidersService {
  return providers({
    AI_SERVICES__GROQ_API_KEY: 'groq-key-1',
    AI_SERVICES__GROQ_BASE_URL: `${url}/openai/v1`,
    ...env,
  });
}

function openRouter(env: Record<string, string> = {}): ProvidersService {
  return providers({
    AI_SERVICES__OPEN_ROUTER_API_KEY_1: 'or-key-one',
    AI_SERVICES__OPEN_ROUTER_API_KEY_2: 'or-key-two',
    AI_SERVICES__OPEN_ROUTER_BASE_URL: `${url}/api/v1`,
    AI_SERVICES__OPEN_ROUTER_SITE_URL: 'https://chat.example.com',
    AI_SERVICES__OPEN_ROUTER_APP_NAME: 'Example Chat',
    ...env,
  });
}

function gemini(env: Record<string, string> = {}): ProvidersService {
  return providers({
    AI_SERVICES__GEMINI_API_KEY: 'gemini-key-1',
    AI_SERVICES__GEMINI_BASE_URL: url,
    ...env,
  });
}

describe('adapters through the real SDKs', () => {
  it('groq: the openai SDK sends key, model and messages; JSON and SSE replies are normalised', async () => {
    const sut = groq();
    const result = await sut.complete({
      model: 'groq/llama-3.1-8b-instant',
      messages: [{ role: 'system', content: 'Be brief.' }, ...USER],
      temperature: 0.2,
      maxTokens: 50,
    });
    expect(result).toEqual({
      text: 'Simulated reply to: hello there',
      model: 'groq/llama-3.1-8b-instant',
      usage: { promptTokens: 14, completionTokens: 8, totalTokens: 22 },
      finishReason: 'stop',
    });
    const { events, error } = await drain(
      sut.stream({ model: 'groq/llama-3.1-8b-instant', messages: USER }),
    );
    expect(error).toBeUndefined();
    expect(events[0]).toEqual({ type: 'start', model: 'groq/llama-3.1-8b-instant' });
    expect(textOf(events)).toBe('Simulated reply to: hello there');
    expect(events.filter((e) => e.type === 'delta').length).toBe(5);
    expect(events[events.length - 1]).toEqual({
      type: 'done',
      model: 'groq/llama-3.1-8b-instant',
      usage: { promptTokens: 7, completionTokens: 8, totalTokens: 15 },
      finishReason: 'stop',
    });

    const [json, sse] = sim.requests;
    expect(json.path).toBe('/openai/v1/chat/completions');
    expect(json.apiKey).toBe('groq-key-1');
    expect(json.headers.authorization).toBe('Bearer groq-key-1');
    expect(json.body).toMatchObject({
      model: 'llama-3.1-8b-instant',
      temperature: 0.2,
      max_tokens: 50,
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'hello there' },
      ],
    });
    expect(sse.body).toMatchObject({ stream: true, stream_options: { include_usage: true } });
  });

  it('openrouter: attribution headers on every request and round-robin over both keys', async () => {
    const sut = openRouter();
    for (let i = 0; i < 4; i++) {
      await sut.complete({ model: 'openrouter/openai/gpt-4o-mini', messages: USER });
    }
    expect(sim.requests.map((r) => r.apiKey)).toEqual([
      'or-key-one',
      'or-key-two',
      'or-key-one',
      'or-key-two',
    ]);
    for (const request of sim.requests) {
      expect(request.path).toBe('/api/v1/chat/completions');
      expect(request.headers['http-referer']).toBe('https://chat.example.com');
      expect(request.headers['x-title']).toBe('Example Chat');
      expect(request.model).toBe('openai/gpt-4o-mini');
    }
    // OpenRouter routes models the catalog does not list.
    expect(sut.resolveModel('openrouter/mistralai/mixtral-8x7b-instruct:free').model).toBe(
      'mistralai/mixtral-8x7b-instruct:free',
    );
  });

  it('gemini: generateContent and streamGenerateContent with x-goog-api-key, system instruction and model role', async () => {
    const sut = gemini();
    const messages: ProviderMessage[] = [
      { role: 'system', content: 'You are terse.' },
      { role: 'user', content: 'first question' },
      { role: 'assistant', content: 'first answer' },
      { role: 'user', content: 'second question' },
    ];
    const result = await sut.complete({
      model: 'gemini/gemini-2.0-flash',
      messages,
      temperature: 0.5,
      maxTokens: 64,
    });
    expect(result.text).toBe('Simulated reply to: second question');
    expect(result.model).toBe('gemini/gemini-2.0-flash');
    expect(result.finishReason).toBe('stop');
    expect(result.usage.completionTokens).toBe(9);

    const { events, error } = await drain(
      sut.stream({ model: 'gemini/gemini-2.0-flash', messages }),
    );
    expect(error).toBeUndefined();
    expect(events[0]).toEqual({ type: 'start', model: 'gemini/gemini-2.0-flash' });
    expect(textOf(events)).toBe('Simulated reply to: second question');
    expect(events[events.length - 1]).toMatchObject({
      type: 'done',
      finishReason: 'stop',
      usage: { completionTokens: 9 },
    });

    const [unary, stream] = sim.requests;
    expect(unary.path).toBe('/v1beta/models/gemini-2.0-flash:generateContent');
    expect(stream.path).toBe('/v1beta/models/gemini-2.0-flash:streamGenerateContent');
    expect(stream.query.alt).toBe('sse');
    expect(unary.headers['x-goog-api-key']).toBe('gemini-key-1');
    expect(unary.body).toMatchObject({
      contents: [
        { role: 'user', parts: [{ text: 'first question' }] },
        { role: 'model', parts: [{ text: 'first answer' }] },
        { role: 'user', parts: [{ text: 'second question' }] },
      ],
      systemInstruction: { parts: [{ text: 'You are terse.' }] },
      generationConfig: { temperature: 0.5, maxOutputTokens: 64 },
    });
  });

  it('gemini: a base URL that includes the API version is accepted', async () => {
    const sut = gemini({ AI_SERVICES__GEMINI_BASE_URL: `${url}/v1beta` });
    await sut.complete({ model: 'gemini/gemini-2.5-flash', messages: USER });
    expect(sim.requests[0].path).toBe('/v1beta/models/gemini-2.5-flash:generateContent');
  });

  it('openai uses max_completion_tokens; openai-compatible lists its configured models and needs no key', async () => {
    const sut = providers({
      AI_SERVICES__OPENAI_API_KEY: 'sk-test-openai',
      AI_SERVICES__OPENAI_BASE_URL: `${url}/v1`,
      AI_SERVICES__OPENAI_COMPATIBLE_BASE_URL: `${url}/ollama/v1`,
      AI_SERVICES__OPENAI_COMPATIBLE_MODELS: 'llama3.2:3b,qwen2.5',
    });
    await sut.complete({ model: 'openai/gpt-4o-mini', messages: USER, maxTokens: 20 });
    expect(sim.requests[0].body).toMatchObject({ max_completion_tokens: 20 });
    expect(sim.requests[0].apiKey).toBe('sk-test-openai');

    const result = await sut.complete({ model: 'openai-compatible/llama3.2:3b', messages: USER });
    expect(result.model).toBe('openai-compatible/llama3.2:3b');
    expect(sim.requests[1].path).toBe('/ollama/v1/chat/completions');
    expect(sim.requests[1].model).toBe('llama3.2:3b');
    expect(sut.listModels().filter((m) => m.provider === 'openai-compatible')).toEqual([
      {
        id: 'openai-compatible/llama3.2:3b',
        provider: 'openai-compatible',
        contextWindow: 8192,
        inputs: [],
        tools: true,
        default: false,
      },
      {
        id: 'openai-compatible/qwen2.5',
        provider: 'openai-compatible',
        contextWindow: 8192,
        inputs: [],
        tools: true,
        default: false,
      },
    ]);
  });

  it('max tokens: a truncated reply ends with finish reason "length"', async () => {
    const sut = groq();
    const { events } = await drain(
      sut.stream({ model: 'groq/llama-3.1-8b-instant', messages: USER, maxTokens: 3 }),
    );
    expect(events[events.length - 1]).toMatchObject({ type: 'done', finishReason: 'length' });
  });

  it('local: deterministic reply that says what it is, streamed word by word with the configured delay', async () => {
    const sut = providers({ AI_SERVICES__LOCAL_DELAY_MS: '20' });
    expect(sut.resolveModel()).toEqual({
      id: 'local/echo',
      provider: 'local',
      model: 'echo',
      contextWindow: 32768,
      inputs: ['image', 'pdf'],
    });
    const started = Date.now();
    const { events, text } = await drain(sut.stream({ messages: USER }));
    const deltas = events.filter((e) => e.type === 'delta').length;
    expect(text).toContain('built-in local provider');
    expect(text).toContain('"hello there"');
    expect(deltas).toBeGreaterThan(10);
    expect(Date.now() - started).toBeGreaterThanOrEqual((deltas - 1) * 20 - 5);
    const done = events[events.length - 1];
    expect(done).toMatchObject({ type: 'done', model: 'local/echo', finishReason: 'stop' });
    const again = await sut.complete({ messages: USER });
    expect(again.text).toBe(text);
    expect(sim.requests).toHaveLength(0);
  });

  it('local: abort stops the stream between words', async () => {
    const sut = providers({ AI_SERVICES__LOCAL_DELAY_MS: '50' });
    const controller = new AbortController();
    const events: GenerationEvent[] = [];
    const error = await rejection(
      (async () => {
        for await (const event of sut.stream({ messages: USER, signal: controller.signal })) {
          events.push(event);
          if (event.type === 'delta') controller.abort();
        }
      })(),
    );
    expect(error).toBeInstanceOf(GenerationAbortedError);
    expect(events.filter((e) => e.type === 'delta')).toHaveLength(1);
  });
});

describe('model resolution', () => {
  it('unknown model or unconfigured provider → 400 naming the valid prefixes', () => {
    const sut = groq();
    for (const model of ['nope/x', 'gemini/gemini-2.0-flash', 'groq/not-a-model', 'groq', '/x']) {
      let error: unknown;
      try {
        sut.resolveModel(model);
      } catch (caught) {
        error = caught;
      }
      const mapped = mapError(error);
      expect(mapped.status).toBe(400);
      expect(mapped.body.detail).toContain('Valid prefixes: groq/, local/');
    }
  });

  it('default model: configured, else the first configured provider default, else local/echo', () => {
    expect(groq().resolveModel().id).toBe('groq/llama-3.1-8b-instant');
    expect(
      groq({ AI_SERVICES__DEFAULT_MODEL: 'groq/llama-3.3-70b-versatile' }).resolveModel().id,
    ).toBe('groq/llama-3.3-70b-versatile');
    expect(providers({}).resolveModel().id).toBe('local/echo');
    const listed = groq().listModels();
    expect(listed.filter((m) => m.default)).toEqual([
      {
        id: 'groq/llama-3.1-8b-instant',
        provider: 'groq',
        contextWindow: 131072,
        inputs: [],
        tools: true,
        default: true,
      },
    ]);
    expect(listed.some((m) => m.id === 'local/echo')).toBe(true);
  });

  it('a default or fallback model that is not configured refuses to start', () => {
    expect(() => groq({ AI_SERVICES__DEFAULT_MODEL: 'gemini/gemini-2.0-flash' })).toThrow(
      /AI_SERVICES__DEFAULT_MODEL/,
    );
    expect(() => groq({ AI_SERVICES__FALLBACK_MODELS: 'openai/gpt-4o' })).toThrow(
      /AI_SERVICES__FALLBACK_MODELS/,
    );
  });
});

describe('retries', () => {
  it('429 is retried after its Retry-After', async () => {
    const sut = groq({ AI_SERVICES__MAX_RETRIES: '2' });
    sim.script({ status: 429, retryAfter: 1 });
    const started = Date.now();
    const result = await sut.complete({ messages: USER });
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    expect(result.text).toBe('Simulated reply to: hello there');
    expect(sim.requests.map((r) => r.status)).toEqual([429, 200]);
  });

  it('429 on one key: the other key answers at once and the limited key cools down', async () => {
    const sut = openRouter();
    sim.script({ key: 'or-key-one', status: 429, retryAfter: 30 });
    const started = Date.now();
    await sut.complete({ messages: USER });
    await sut.complete({ messages: USER });
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(sim.requests.map((r) => [r.apiKey, r.status])).toEqual([
      ['or-key-one', 429],
      ['or-key-two', 200],
      ['or-key-two', 200],
    ]);
  });

  it('a Retry-After beyond the cap is not waited for: 503 with the hint', async () => {
    const sut = groq({ AI_SERVICES__RETRY_MAX_MS: '500' });
    sim.script({ status: 429, retryAfter: 60 });
    const started = Date.now();
    const error = await rejection(sut.complete({ messages: USER }));
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(error).toBeInstanceOf(ProviderUnavailableError);
    expect(mapError(error)).toEqual({
      status: 503,
      body: { detail: expect.stringContaining('groq/llama-3.1-8b-instant') },
      retryAfterSeconds: 60,
    });
    expect(sim.requests).toHaveLength(1);
  });

  it('500 and 503 are retried with backoff; after max retries → 502', async () => {
    const sut = groq({ AI_SERVICES__MAX_RETRIES: '2' });
    sim.script({ status: 500 }, { status: 503 });
    const result = await sut.complete({ messages: USER });
    expect(result.text).toContain('hello there');
    expect(sim.requests.map((r) => r.status)).toEqual([500, 503, 200]);

    sim.reset();
    sim.script({ status: 500 }, { status: 500 }, { status: 500 });
    const error = await rejection(sut.complete({ messages: USER }));
    expect(error).toBeInstanceOf(ProviderError);
    const mapped = mapError(error);
    expect(mapped.status).toBe(502);
    expect(mapped.body.detail).not.toContain('simulated');
    expect(sim.requests).toHaveLength(3);
  });

  it('400 is never retried', async () => {
    const sut = groq({ AI_SERVICES__MAX_RETRIES: '3' });
    sim.script({ status: 400 });
    const error = await rejection(sut.complete({ messages: USER }));
    expect(mapError(error)).toEqual({
      status: 502,
      body: { detail: 'Model groq/llama-3.1-8b-instant rejected the request' },
      retryAfterSeconds: undefined,
    });
    expect(sim.requests).toHaveLength(1);
  });

  it('gemini: 503 is retried, 429 honours RetryInfo', async () => {
    const sut = gemini({ AI_SERVICES__MAX_RETRIES: '2' });
    sim.script({ status: 503 }, { status: 429, retryAfter: 1 });
    const started = Date.now();
    const { error, text } = await drain(sut.stream({ messages: USER }));
    expect(error).toBeUndefined();
    expect(text).toBe('Simulated reply to: hello there');
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    expect(sim.requests.map((r) => r.status)).toEqual([503, 429, 200]);
  });

  it('401 disables the key for good and rotates to the next one; logs name the key by index only', async () => {
    const sut = openRouter({ AI_SERVICES__MAX_RETRIES: '0' });
    sim.rejectKey('or-key-one', 401);
    for (let i = 0; i < 3; i++) {
      const result = await sut.complete({ messages: USER });
      expect(result.text).toContain('hello there');
    }
    expect(sim.requests.map((r) => [r.apiKey, r.status])).toEqual([
      ['or-key-one', 401],
      ['or-key-two', 200],
      ['or-key-two', 200],
      ['or-key-two', 200],
    ]);
    const all = logs.lines.join('\n');
    expect(all).toContain('"keyIndex":0');
    expect(all).not.toContain('or-key-one');
    expect(all).not.toContain('or-key-two');
  });

  it('every key refused (401/403) → 503', async () => {
    const sut = openRouter();
    sim.rejectKey('or-key-one', 401).rejectKey('or-key-two', 403);
    const error = await rejection(sut.complete({ messages: USER }));
    expect(error).toBeInstanceOf(ProviderUnavailableError);
    expect(mapError(error).status).toBe(503);
    expect(sim.requests).toHaveLength(2);
    // Disabled keys are not tried again.
    await rejection(sut.complete({ messages: USER }));
    expect(sim.requests).toHaveLength(2);
  });
});

describe('circuit breaker', () => {
  it('opens after N consecutive failures (fail fast, 503), half-opens after the cooldown, closes on success', async () => {
    const sut = groq({
      AI_SERVICES__MAX_RETRIES: '0',
      AI_SERVICES__BREAKER_THRESHOLD: '2',
      AI_SERVICES__BREAKER_COOLDOWN_MS: '400',
      // Shorter than the cooldown: an open circuit is not waited for.
      AI_SERVICES__RETRY_MAX_MS: '100',
    });
    sim.script({ status: 500 }, { status: 500 });
    expect(mapError(await rejection(sut.complete({ messages: USER }))).status).toBe(502);
    expect(mapError(await rejection(sut.complete({ messages: USER }))).status).toBe(502);
    // Open: no request reaches the provider.
    const open = await rejection(sut.complete({ messages: USER }));
    expect(open).toBeInstanceOf(ProviderUnavailableError);
    expect(sim.requests).toHaveLength(2);

    await new Promise((resolve) => setTimeout(resolve, 450));
    // Half-open: one trial; it fails → open again at once.
    sim.script({ status: 500 });
    expect(mapError(await rejection(sut.complete({ messages: USER }))).status).toBe(502);
    expect(await rejection(sut.complete({ messages: USER }))).toBeInstanceOf(
      ProviderUnavailableError,
    );
    expect(sim.requests).toHaveLength(3);

    await new Promise((resolve) => setTimeout(resolve, 450));
    // Half-open trial succeeds → closed; the next calls pass.
    await sut.complete({ messages: USER });
    await sut.complete({ messages: USER });
    expect(sim.requests.map((r) => r.status)).toEqual([500, 500, 500, 200, 200]);
  });

  it('a short open circuit is waited for when it fits the retry cap', async () => {
    const sut = groq({
      AI_SERVICES__MAX_RETRIES: '1',
      AI_SERVICES__BREAKER_THRESHOLD: '1',
      AI_SERVICES__BREAKER_COOLDOWN_MS: '200',
      AI_SERVICES__RETRY_MAX_MS: '1000',
    });
    sim.script({ status: 503 });
    const result = await sut.complete({ messages: USER });
    expect(result.text).toContain('hello there');
    expect(sim.requests.map((r) => r.status)).toEqual([503, 200]);
  });
});

describe('fallback chain', () => {
  it('the configured fallback answers when the primary fails before any token; start and done name it', async () => {
    const sut = groq({
      AI_SERVICES__MAX_RETRIES: '0',
      AI_SERVICES__FALLBACK_MODELS: 'groq/llama-3.3-70b-versatile',
    });
    sim.script({ status: 500 });
    const { events, error } = await drain(sut.stream({ messages: USER }));
    expect(error).toBeUndefined();
    expect(events[0]).toEqual({ type: 'start', model: 'groq/llama-3.3-70b-versatile' });
    expect(events[events.length - 1]).toMatchObject({
      type: 'done',
      model: 'groq/llama-3.3-70b-versatile',
    });
    expect(sim.requests.map((r) => r.model)).toEqual([
      'llama-3.1-8b-instant',
      'llama-3.3-70b-versatile',
    ]);
  });

  it('per-request fallbacks come first and may cross providers', async () => {
    const sut = providers({
      AI_SERVICES__MAX_RETRIES: '0',
      AI_SERVICES__GEMINI_API_KEY: 'gemini-key-1',
      AI_SERVICES__GEMINI_BASE_URL: url,
      AI_SERVICES__GROQ_API_KEY: 'groq-key-1',
      AI_SERVICES__GROQ_BASE_URL: `${url}/openai/v1`,
      AI_SERVICES__FALLBACK_MODELS: 'local/echo',
    });
    sim.script({ status: 503 });
    const result = await sut.complete({
      model: 'gemini/gemini-2.0-flash',
      fallbackModels: ['groq/llama-3.1-8b-instant'],
      messages: USER,
    });
    expect(result.model).toBe('groq/llama-3.1-8b-instant');
    expect(sim.requests.map((r) => [r.api, r.status])).toEqual([
      ['gemini', 503],
      ['openai', 200],
    ]);
    const invalid = await drain(sut.stream({ fallbackModels: ['nope/model'], messages: USER }));
    expect(mapError(invalid.error).status).toBe(400);
  });

  it('when every model fails, the last failure is reported', async () => {
    const sut = groq({
      AI_SERVICES__MAX_RETRIES: '0',
      AI_SERVICES__FALLBACK_MODELS: 'groq/llama-3.3-70b-versatile',
    });
    sim.script({ status: 500 }, { status: 500 });
    const error = await rejection(sut.complete({ messages: USER }));
    expect(mapError(error)).toMatchObject({
      status: 502,
      body: { detail: 'Model groq/llama-3.3-70b-versatile returned an error; please try again' },
    });
  });
});

describe('timeouts', () => {
  it('first token: retried, then 504', async () => {
    const sut = groq({
      AI_SERVICES__MAX_RETRIES: '1',
      AI_SERVICES__FIRST_TOKEN_TIMEOUT_MS: '200',
    });
    sim.script({ firstTokenDelayMs: 2000 }, { firstTokenDelayMs: 2000 });
    const started = Date.now();
    const { events, error } = await drain(sut.stream({ messages: USER }));
    expect(Date.now() - started).toBeLessThan(1500);
    expect(events).toEqual([]);
    expect(error).toBeInstanceOf(ProviderTimeoutError);
    expect(mapError(error)).toMatchObject({
      status: 504,
      body: { detail: 'Model groq/llama-3.1-8b-instant did not answer in time' },
    });
    expect(sim.requests).toHaveLength(2);
    await sim.waitFor(() => sim.requests.every((r) => r.closedByClient));
  });

  it('first token also bounds a non-streamed reply', async () => {
    const sut = groq({ AI_SERVICES__MAX_RETRIES: '0', AI_SERVICES__FIRST_TOKEN_TIMEOUT_MS: '200' });
    sim.script({ firstTokenDelayMs: 2000 });
    expect(mapError(await rejection(sut.complete({ messages: USER }))).status).toBe(504);
  });

  it('connect: no response headers in time → 504', async () => {
    const sut = groq({ AI_SERVICES__MAX_RETRIES: '0', AI_SERVICES__CONNECT_TIMEOUT_MS: '200' });
    sim.script({ hang: true });
    const { error } = await drain(sut.stream({ messages: USER }));
    expect(mapError(error)).toMatchObject({
      status: 504,
      body: { detail: 'Model groq/llama-3.1-8b-instant could not be reached in time' },
    });
    await sim.waitFor(() => sim.requests[0].closedByClient);
  });

  it('idle gap between chunks → 504 after the text already sent, never retried', async () => {
    const sut = groq({ AI_SERVICES__MAX_RETRIES: '2', AI_SERVICES__IDLE_TIMEOUT_MS: '200' });
    sim.script({ stallAfterChunks: 2 });
    const { events, error, text } = await drain(sut.stream({ messages: USER }));
    expect(text).toBe('Simulated reply ');
    expect(events[0]).toEqual({ type: 'start', model: 'groq/llama-3.1-8b-instant' });
    expect(mapError(error)).toMatchObject({
      status: 504,
      body: { detail: 'Model groq/llama-3.1-8b-instant stopped sending its reply' },
    });
    expect(sim.requests).toHaveLength(1);
    await sim.waitFor(() => sim.requests[0].closedByClient);
  });

  it('total deadline → 504 even while chunks keep coming', async () => {
    const sut = groq({
      AI_SERVICES__TOTAL_TIMEOUT_MS: '300',
      AI_SERVICES__IDLE_TIMEOUT_MS: '1000',
    });
    sim.script({ chunkDelayMs: 100, reply: 'one two three four five six seven eight nine ten' });
    const { events, error } = await drain(sut.stream({ messages: USER }));
    expect(events.filter((e) => e.type === 'delta').length).toBeGreaterThan(0);
    expect(error).toBeInstanceOf(ProviderTimeoutError);
    expect(mapError(error).status).toBe(504);
    await sim.waitFor(() => sim.requests[0].closedByClient);
  });
});

describe('abort', () => {
  it('aborting mid-stream closes the upstream connection (openai SDK)', async () => {
    const sut = groq();
    sim.script({ chunkDelayMs: 100 });
    const controller = new AbortController();
    let deltas = 0;
    const error = await rejection(
      (async () => {
        for await (const event of sut.stream({ messages: USER, signal: controller.signal })) {
          if (event.type === 'delta' && ++deltas === 1) controller.abort();
        }
      })(),
    );
    expect(error).toBeInstanceOf(GenerationAbortedError);
    expect(deltas).toBe(1);
    await sim.waitFor(() => sim.requests[0].closedByClient);
    expect(sim.requests).toHaveLength(1);
  });

  it('aborting while waiting for the first token closes the connection (gemini SDK)', async () => {
    const sut = gemini();
    sim.script({ firstTokenDelayMs: 5000 });
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 150);
    const { events, error } = await drain(
      sut.stream({ messages: USER, signal: controller.signal }),
    );
    expect(events).toEqual([]);
    expect(error).toBeInstanceOf(GenerationAbortedError);
    await sim.waitFor(() => sim.requests[0].closedByClient);
  });

  it('a caller that stops iterating also closes the upstream connection', async () => {
    const sut = groq();
    sim.script({ chunkDelayMs: 100 });
    for await (const event of sut.stream({ messages: USER })) {
      if (event.type === 'delta') break;
    }
    await sim.waitFor(() => sim.requests[0].closedByClient);
  });

  it('an already aborted signal never reaches the provider', async () => {
    const sut = groq();
    const error = await rejection(sut.complete({ messages: USER, signal: AbortSignal.abort() }));
    expect(error).toBeInstanceOf(GenerationAbortedError);
    expect(sim.requests).toHaveLength(0);
  });
});

describe('broken streams', () => {
  it('connection cut after the first token: 502, no retry, no fallback', async () => {
    const sut = groq({
      AI_SERVICES__MAX_RETRIES: '2',
      AI_SERVICES__FALLBACK_MODELS: 'groq/llama-3.3-70b-versatile',
    });
    sim.script({ cutAfterChunks: 2 });
    const { events, error, text } = await drain(sut.stream({ messages: USER }));
    expect(text).toBe('Simulated reply ');
    expect(events[0]).toEqual({ type: 'start', model: 'groq/llama-3.1-8b-instant' });
    expect(mapError(error)).toMatchObject({ status: 502 });
    expect(sim.requests).toHaveLength(1);
  });

  it('connection cut before any token is retried', async () => {
    const sut = groq({ AI_SERVICES__MAX_RETRIES: '1' });
    sim.script({ cutAfterChunks: 0 });
    const { error, text } = await drain(sut.stream({ messages: USER }));
    expect(error).toBeUndefined();
    expect(text).toBe('Simulated reply to: hello there');
    expect(sim.requests).toHaveLength(2);
  });

  it('malformed chunk mid-stream → 502; before any token it is retried', async () => {
    const sut = groq({ AI_SERVICES__MAX_RETRIES: '1' });
    sim.script({ malformedAfterChunks: 1 });
    const broken = await drain(sut.stream({ messages: USER }));
    expect(broken.text).toBe('Simulated ');
    expect(mapError(broken.error)).toMatchObject({
      status: 502,
      body: { detail: 'Model groq/llama-3.1-8b-instant sent a malformed reply' },
    });
    expect(sim.requests).toHaveLength(1);

    sim.reset();
    sim.script({ malformedAfterChunks: 0 });
    const retried = await drain(sut.stream({ messages: USER }));
    expect(retried.error).toBeUndefined();
    expect(sim.requests).toHaveLength(2);

    sim.reset();
    sim.script({ malformedAfterChunks: 0 }, { malformedAfterChunks: 0 });
    expect(mapError(await rejection(sut.complete({ messages: USER }))).status).toBe(502);
  });

  it('openrouter: PROCESSING comments then an error event after the 200 → retried before any token', async () => {
    const sut = openRouter({ AI_SERVICES__MAX_RETRIES: '1' });
    sim.script({ processingComments: 2, errorEventAfterChunks: 0 });
    const { error, text, events } = await drain(sut.stream({ messages: USER }));
    expect(error).toBeUndefined();
    expect(text).toBe('Simulated reply to: hello there');
    expect(events[0]).toEqual({ type: 'start', model: 'openrouter/openai/gpt-4o-mini' });
    expect(sim.requests.map((r) => r.status)).toEqual([200, 200]);
  });

  it('openrouter: an error event after a token → 502 without the provider text', async () => {
    const sut = openRouter({ AI_SERVICES__MAX_RETRIES: '2' });
    sim.script({ processingComments: 1, errorEventAfterChunks: 1 });
    const { error, text } = await drain(sut.stream({ messages: USER }));
    expect(text).toBe('Simulated ');
    const mapped = mapError(error);
    expect(mapped.status).toBe(502);
    expect(mapped.body.detail).not.toContain('Provider returned error');
    expect(sim.requests).toHaveLength(1);
  });

  it('openrouter: an error object in a 200 JSON reply is a failure, retried', async () => {
    const sut = openRouter({ AI_SERVICES__MAX_RETRIES: '1' });
    sim.script({ errorEventAfterChunks: 0, errorEventCode: 503 });
    const result = await sut.complete({ messages: USER });
    expect(result.text).toContain('hello there');
    expect(sim.requests).toHaveLength(2);
  });

  it('gemini: malformed chunk and cut connection → 502', async () => {
    const sut = gemini({ AI_SERVICES__MAX_RETRIES: '0' });
    sim.script({ malformedAfterChunks: 1 });
    const malformed = await drain(sut.stream({ messages: USER }));
    expect(malformed.text).toBe('Simulated ');
    expect(mapError(malformed.error).status).toBe(502);

    sim.script({ cutAfterChunks: 2 });
    const cut = await drain(sut.stream({ messages: USER }));
    expect(cut.text).toBe('Simulated reply ');
    expect(mapError(cut.error).status).toBe(502);
  });
});
