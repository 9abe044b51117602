import { mapError } from '@app/common';
import { ProviderSimulator } from '@app/testing';
import type { ProviderMessage } from '../src/providers/chat-provider.interface';
import {
  GenerationAbortedError,
  ProviderError,
  ProviderUnavailableError,
} from '../src/providers/provider.errors';
import type { ProvidersService } from '../src/providers/providers.service';
import { drain, providersFor, rejection } from './factories/provider-layer.factory';

/**
 * The Anthropic adapter on the wire: the official `@anthropic-ai/sdk` talks HTTP to the provider
 * simulator's Messages API, which refuses what the real API refuses (no key or version header,
 * roles not alternating, no max_tokens, sampling parameters, more than 4 cache_control marks).
 */

const SONNET = 'anthropic/claude-sonnet-5-5';
const USER: ProviderMessage[] = [{ role: 'user', content: 'hello there' }];
/** About 1200 tokens: above the 1024-token cache minimum of claude-sonnet-5-5. */
const LONG_SYSTEM = `You are a careful assistant. ${'Follow the house style in every answer. '.repeat(120)}`;

let sim: ProviderSimulator;
let url: string;

beforeAll(async () => {
  sim = new ProviderSimulator();
  url = await sim.start();
});

afterAll(async () => {
  await sim.stop();
});

beforeEach(() => sim.reset());

function anthropic(env: Record<string, string> = {}): ProvidersService {
  return providersFor({
    AI_SERVICES__ANTHROPIC_API_KEY: 'ant-key-1',
    AI_SERVICES__ANTHROPIC_BASE_URL: url,
    ...env,
  });
}

type Block = { type: string; text: string; cache_control?: { type: string } };
type SentBody = {
  system?: Block[];
  messages: { role: string; content: Block[] }[];
  max_tokens: number;
};

const sentBody = (index: number) => sim.requests[index].body as SentBody;

describe('anthropic adapter through @anthropic-ai/sdk', () => {
  it('JSON and SSE: system in `system`, same-role turns merged, max_tokens always sent, no temperature', async () => {
    const sut = anthropic();
    const messages: ProviderMessage[] = [
      { role: 'system', content: 'You are terse.' },
      { role: 'user', content: 'first question' },
      { role: 'user', content: 'more detail' },
      { role: 'assistant', content: 'first answer' },
      { role: 'user', content: 'second question' },
    ];
    const result = await sut.complete({ model: SONNET, messages, temperature: 0.4 });
    expect(result).toEqual({
      text: 'Simulated reply to: second question',
      model: SONNET,
      usage: {
        promptTokens: expect.any(Number),
        completionTokens: 9,
        totalTokens: expect.any(Number),
      },
      finishReason: 'stop',
    });
    expect(result.usage.totalTokens).toBe(result.usage.promptTokens + 9);

    const { events, error, text } = await drain(sut.stream({ model: SONNET, messages }));
    expect(error).toBeUndefined();
    expect(events[0]).toEqual({ type: 'start', model: SONNET });
    expect(text).toBe('Simulated reply to: second question');
    expect(events.filter((e) => e.type === 'delta')).toHaveLength(5);
    expect(events.at(-1)).toEqual({
      type: 'done',
      model: SONNET,
      usage: result.usage,
      finishReason: 'stop',
    });

    const [json, sse] = sim.requests;
    expect(json.api).toBe('anthropic');
    expect(json.path).toBe('/v1/messages');
    expect(json.apiKey).toBe('ant-key-1');
    expect(json.headers['anthropic-version']).toBe('2026-10-21');
    expect(json.body).toEqual({
      model: 'claude-sonnet-5-5',
      max_tokens: 4096,
      stream: false,
      system: [{ type: 'text', text: 'You are terse.' }],
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'first question' },
            { type: 'text', text: 'more detail' },
          ],
        },
        { role: 'assistant', content: [{ type: 'text', text: 'first answer' }] },
        { role: 'user', content: [{ type: 'text', text: 'second question' }] },
      ],
    });
    expect(sse.stream).toBe(true);
    expect(sse.body).toMatchObject({ stream: true, max_tokens: 4096 });
  });

  it('max_tokens: the request value, else the configured default capped by the model limit', async () => {
    const sut = anthropic({ AI_SERVICES__ANTHROPIC_MAX_TOKENS: '100000' });
    const { events } = await drain(sut.stream({ model: SONNET, messages: USER, maxTokens: 3 }));
    expect(events.at(-1)).toMatchObject({ type: 'done', finishReason: 'length' });
    await sut.complete({ model: 'anthropic/claude-sonnet-4-6', messages: USER });
    // A Claude model the catalog does not list yet is accepted, with the configured default.
    await sut.complete({ model: 'anthropic/claude-sonnet-6', messages: USER });
    expect(sim.requests.map((r) => (r.body as SentBody).max_tokens)).toEqual([3, 64_000, 100_000]);
    expect(sut.listModels().filter((m) => m.provider === 'anthropic')[0]).toEqual({
      id: SONNET,
      provider: 'anthropic',
      contextWindow: 1_000_000,
      inputs: ['image', 'pdf'],
      tools: true,
      default: true,
    });
  });

  it('prompt caching: a long conversation marks the system prompt and the stable prefix; the next turns read it', async () => {
    const sut = anthropic();
    const turns: ProviderMessage[] = [{ role: 'system', content: LONG_SYSTEM }];
    const usages = [];
    for (const question of ['first question', 'second question', 'third question']) {
      turns.push({ role: 'user', content: question });
      const result = await sut.complete({ model: SONNET, messages: turns });
      usages.push(result.usage);
      turns.push({ role: 'assistant', content: result.text });
    }
    const [first, second, third] = [0, 1, 2].map(sentBody);
    // Turn 1: only the system prompt is long enough (and nothing else is stable yet).
    expect(first.system![0].cache_control).toEqual({ type: 'ephemeral' });
    expect(first.messages.some((m) => m.content.some((b) => b.cache_control))).toBe(false);
    // Turn 2: the system prompt and the turns before the new question.
    expect(second.system![0].cache_control).toEqual({ type: 'ephemeral' });
    expect(second.messages.map((m) => m.content.some((b) => b.cache_control))).toEqual([
      false,
      true,
      false,
    ]);
    expect(third.messages.map((m) => m.content.some((b) => b.cache_control))).toEqual([
      false,
      false,
      false,
      true,
      false,
    ]);
    // Usage: turn 1 writes the system prompt, later turns read what the turn before wrote.
    const systemTokens = sim.requests[0].cache!.writeTokens;
    expect(systemTokens).toBeGreaterThanOrEqual(1024);
    expect(usages[0]).toMatchObject({ cacheWriteTokens: systemTokens });
    expect(usages[0].cacheReadTokens).toBeUndefined();
    expect(usages[1]).toMatchObject({
      cacheReadTokens: systemTokens,
      cacheWriteTokens: sim.requests[1].cache!.writeTokens,
    });
    expect(usages[2].cacheReadTokens).toBe(systemTokens + usages[1].cacheWriteTokens!);
    // The prompt counts every token, cached or not.
    for (const [i, usage] of usages.entries()) {
      expect(usage.promptTokens).toBeGreaterThan(
        (usage.cacheReadTokens ?? 0) + (usage.cacheWriteTokens ?? 0),
      );
      expect(usage.promptTokens).toBeGreaterThan(i === 0 ? 1024 : systemTokens);
    }
  });

  it('prompt caching: a short conversation carries no cache_control', async () => {
    const sut = anthropic();
    await sut.complete({
      model: SONNET,
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'q1' },
        { role: 'assistant', content: 'a1' },
        { role: 'user', content: 'q2' },
      ],
    });
    expect(JSON.stringify(sim.requests[0].body)).not.toContain('cache_control');
    expect(sim.requests[0].cache).toEqual({ readTokens: 0, writeTokens: 0 });
  });
});

describe('anthropic errors and resilience', () => {
  it('numbered keys rotate; 401 disables the key for good and the next one answers', async () => {
    const sut = anthropic({
      AI_SERVICES__ANTHROPIC_API_KEY_2: 'ant-key-2',
      AI_SERVICES__MAX_RETRIES: '0',
    });
    for (let i = 0; i < 2; i++) await sut.complete({ model: SONNET, messages: USER });
    expect(sim.requests.map((r) => r.apiKey)).toEqual(['ant-key-1', 'ant-key-2']);

    sim.reset();
    const fresh = anthropic({
      AI_SERVICES__ANTHROPIC_API_KEY_2: 'ant-key-2',
      AI_SERVICES__MAX_RETRIES: '0',
    });
    sim.rejectKey('ant-key-1', 401);
    for (let i = 0; i < 3; i++) await fresh.complete({ model: SONNET, messages: USER });
    expect(sim.requests.map((r) => [r.apiKey, r.status])).toEqual([
      ['ant-key-1', 401],
      ['ant-key-2', 200],
      ['ant-key-2', 200],
      ['ant-key-2', 200],
    ]);
  });

  it('429 is retried after its Retry-After; beyond the cap → 503 with the hint', async () => {
    const sut = anthropic({ AI_SERVICES__MAX_RETRIES: '2' });
    sim.script({ status: 429, retryAfter: 1 });
    const started = Date.now();
    const { error, text } = await drain(sut.stream({ model: SONNET, messages: USER }));
    expect(error).toBeUndefined();
    expect(text).toBe('Simulated reply to: hello there');
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    expect(sim.requests.map((r) => r.status)).toEqual([429, 200]);

    sim.reset();
    const capped = anthropic({ AI_SERVICES__RETRY_MAX_MS: '500' });
    sim.script({ status: 429, retryAfter: 60 });
    const limited = await rejection(capped.complete({ model: SONNET, messages: USER }));
    expect(limited).toBeInstanceOf(ProviderUnavailableError);
    expect(mapError(limited)).toMatchObject({ status: 503, retryAfterSeconds: 60 });
  });

  it('529 overloaded is retried, then the fallback model answers', async () => {
    const sut = anthropic({
      AI_SERVICES__MAX_RETRIES: '1',
      AI_SERVICES__GROQ_API_KEY: 'groq-key-1',
      AI_SERVICES__GROQ_BASE_URL: `${url}/openai/v1`,
      AI_SERVICES__FALLBACK_MODELS: 'groq/llama-3.1-8b-instant',
    });
    sim.script({ status: 529 }, { status: 529 });
    const { events, error } = await drain(sut.stream({ model: SONNET, messages: USER }));
    expect(error).toBeUndefined();
    expect(events[0]).toEqual({ type: 'start', model: 'groq/llama-3.1-8b-instant' });
    expect(sim.requests.map((r) => [r.api, r.status])).toEqual([
      ['anthropic', 529],
      ['anthropic', 529],
      ['openai', 200],
    ]);
  });

  it('anthropic is usable as the fallback of another provider', async () => {
    const sut = providersFor({
      AI_SERVICES__MAX_RETRIES: '0',
      AI_SERVICES__GROQ_API_KEY: 'groq-key-1',
      AI_SERVICES__GROQ_BASE_URL: `${url}/openai/v1`,
      AI_SERVICES__ANTHROPIC_API_KEY: 'ant-key-1',
      AI_SERVICES__ANTHROPIC_BASE_URL: url,
      AI_SERVICES__FALLBACK_MODELS: SONNET,
    });
    sim.script({ status: 503 });
    const result = await sut.complete({ model: 'groq/llama-3.1-8b-instant', messages: USER });
    expect(result.model).toBe(SONNET);
    expect(sim.requests.map((r) => [r.api, r.status])).toEqual([
      ['openai', 503],
      ['anthropic', 200],
    ]);
  });

  it('400 invalid_request_error is never retried', async () => {
    const sut = anthropic({ AI_SERVICES__MAX_RETRIES: '3' });
    sim.script({ status: 400 });
    const error = await rejection(sut.complete({ model: SONNET, messages: USER }));
    expect(mapError(error)).toEqual({
      status: 502,
      body: { detail: `Model ${SONNET} rejected the request` },
      retryAfterSeconds: undefined,
    });
    expect(sim.requests).toHaveLength(1);
  });

  it('an error event in the 200 stream: retried before the first token, 502 after it', async () => {
    const sut = anthropic({ AI_SERVICES__MAX_RETRIES: '1' });
    sim.script({ errorEventAfterChunks: 0, errorEventCode: 529 });
    const retried = await drain(sut.stream({ model: SONNET, messages: USER }));
    expect(retried.error).toBeUndefined();
    expect(retried.text).toBe('Simulated reply to: hello there');
    expect(sim.requests).toHaveLength(2);

    sim.reset();
    sim.script({ errorEventAfterChunks: 2, errorEventCode: 529 });
    const broken = await drain(sut.stream({ model: SONNET, messages: USER }));
    expect(broken.error).toBeInstanceOf(ProviderError);
    expect(broken.text).toBe('Simulated reply ');
    expect(sim.requests).toHaveLength(1);
  });

  it('aborting mid-stream closes the upstream connection', async () => {
    const sut = anthropic();
    sim.script({ chunkDelayMs: 100 });
    const controller = new AbortController();
    let deltas = 0;
    const error = await rejection(
      (async () => {
        for await (const event of sut.stream({
          model: SONNET,
          messages: USER,
          signal: controller.signal,
        })) {
          if (event.type === 'delta' && ++deltas === 1) controller.abort();
        }
      })(),
    );
    expect(error).toBeInstanceOf(GenerationAbortedError);
    expect(deltas).toBe(1);
    await sim.waitFor(() => sim.requests[0].closedByClient);
  });
});

describe('the simulated Messages API refuses what the real one refuses', () => {
  const post = (headers: Record<string, string>, body: object) =>
    fetch(`${url}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
    });
  const valid = {
    model: 'claude-sonnet-5-5',
    max_tokens: 10,
    messages: [{ role: 'user', content: 'hi' }],
  };
  const auth = { 'x-api-key': 'k', 'anthropic-version': '2026-10-21' };

  it.each([
    ['no key', { 'anthropic-version': '2026-10-21' }, valid, 401, 'authentication_error'],
    ['no version header', { 'x-api-key': 'k' }, valid, 400, 'invalid_request_error'],
    ['no max_tokens', auth, { ...valid, max_tokens: undefined }, 400, 'invalid_request_error'],
    [
      'roles not alternating',
      auth,
      { ...valid, messages: [...valid.messages, { role: 'user', content: 'again' }] },
      400,
      'invalid_request_error',
    ],
    [
      'a system message among the messages',
      auth,
      { ...valid, messages: [{ role: 'system', content: 'x' }, ...valid.messages] },
      400,
      'invalid_request_error',
    ],
    ['temperature', auth, { ...valid, temperature: 1 }, 400, 'invalid_request_error'],
    [
      'five cache_control marks',
      auth,
      {
        ...valid,
        system: Array.from({ length: 5 }, () => ({
          type: 'text',
          text: 'x',
          cache_control: { type: 'ephemeral' },
        })),
      },
      400,
      'invalid_request_error',
    ],
  ])(
    '%s → the status and error type of the real API',
    async (_name, headers, body, status, type) => {
      const res = await post(headers, body);
      expect(res.status).toBe(status);
      expect(await res.json()).toEqual({
        type: 'error',
        error: { type, message: expect.any(String) },
      });
    },
  );

  it('a 429 carries retry-after and rate_limit_error; a 529 overloaded_error', async () => {
    sim.script({ status: 429, retryAfter: 7 }, { status: 529 });
    const limited = await post(auth, valid);
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('7');
    expect((await limited.json()).error.type).toBe('rate_limit_error');
    const overloaded = await post(auth, valid);
    expect(overloaded.status).toBe(529);
    expect((await overloaded.json()).error.type).toBe('overloaded_error');
  });

  it('streams the named events in order, with usage in message_start and message_delta', async () => {
    const res = await post(auth, { ...valid, stream: true });
    const text = await res.text();
    const events = [...text.matchAll(/^event: (\w+)$/gm)].map((m) => m[1]);
    expect(events).toEqual([
      'message_start',
      'content_block_start',
      'ping',
      'content_block_delta',
      'content_block_delta',
      'content_block_delta',
      'content_block_delta',
      'content_block_stop',
      'message_delta',
      'message_stop',
    ]);
    expect(text).toContain('"cache_read_input_tokens":0');
    expect(text).toContain('"stop_reason":"end_turn"');
  });
});

describe('automatic prompt caching of OpenAI and Gemini (simulator asked to report it)', () => {
  let caching: ProviderSimulator;
  let cachingUrl: string;
  beforeAll(async () => {
    caching = new ProviderSimulator({ automaticPromptCache: true });
    cachingUrl = await caching.start();
  });
  afterAll(async () => {
    await caching.stop();
  });

  it.each([
    ['openai', 'openai/gpt-4o-mini', { AI_SERVICES__OPENAI_API_KEY: 'sk-1' }, '/v1'],
    ['gemini', 'gemini/gemini-2.5-flash', { AI_SERVICES__GEMINI_API_KEY: 'g-1' }, ''],
  ])('%s: a repeated prefix is reported as cache reads', async (name, model, keys, path) => {
    const sut = providersFor({
      ...keys,
      [`AI_SERVICES__${name.toUpperCase()}_BASE_URL`]: `${cachingUrl}${path}`,
    });
    const first: ProviderMessage[] = [
      { role: 'system', content: LONG_SYSTEM },
      { role: 'user', content: 'first question' },
    ];
    const before = await sut.complete({ model, messages: first });
    expect(before.usage.cacheReadTokens).toBeUndefined();
    const { events } = await drain(
      sut.stream({
        model,
        messages: [
          ...first,
          { role: 'assistant', content: before.text },
          { role: 'user', content: 'second question' },
        ],
      }),
    );
    const done = events.at(-1)!;
    expect(done.type).toBe('done');
    const usage = (done as Extract<typeof done, { type: 'done' }>).usage;
    expect(usage.cacheReadTokens).toBe(caching.requests.at(-1)!.cache!.readTokens);
    expect(usage.cacheReadTokens).toBeGreaterThan(1024);
    expect(usage.promptTokens).toBeGreaterThan(usage.cacheReadTokens!);
  });
});
