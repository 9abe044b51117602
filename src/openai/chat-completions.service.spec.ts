import { InvalidInputError, RateLimitedError } from '@app/common';
import { AppConfig } from '@app/config';
import type { ChatService } from '../chat/chat.service';
import type { GenerationEvent } from '../providers/generation.types';
import { ProviderUnavailableError } from '../providers/provider.errors';
import type { ProvidersService } from '../providers/providers.service';
import type { QuotaService } from '../providers/quota.service';
import type { BudgetService } from '../usage/budget/budget.service';
import { PriceCatalog } from '../usage/price-catalog';
import { ChatCompletionsService } from './chat-completions.service';
import type { CompletionInput } from './completion-input';
import { ContextLengthExceededError, ModelNotFoundError } from './openai-errors';

const MODEL = {
  id: 'local/echo',
  provider: 'local',
  model: 'echo',
  contextWindow: 1000,
  inputs: [],
};

function input(overrides: Partial<CompletionInput> = {}): CompletionInput {
  return {
    model: MODEL.id,
    messages: [{ role: 'user', content: 'hello' }],
    stream: false,
    includeUsage: false,
    stops: [],
    store: false,
    ...overrides,
  };
}

async function* events(list: GenerationEvent[], thenThrow?: Error): AsyncIterable<GenerationEvent> {
  for (const event of list) yield event;
  if (thenThrow) throw thenThrow;
}

const reply = (...texts: string[]): GenerationEvent[] => [
  { type: 'start', model: MODEL.id },
  ...texts.map((text) => ({ type: 'delta' as const, text })),
  {
    type: 'done',
    model: MODEL.id,
    finishReason: 'stop',
    usage: { promptTokens: 7, completionTokens: 3, totalTokens: 10 },
  },
];

/** The personal API key of a request, with a daily token quota of its own. */
const KEY = { id: 'k1', tokensPerDay: 50 };

describe(ChatCompletionsService.name, () => {
  let providers: { resolveModel: jest.Mock; stream: jest.Mock };
  let quota: { assertWithinQuota: jest.Mock; recordUsage: jest.Mock };
  let chat: { begin: jest.Mock };
  let budgets: { reserve: jest.Mock; holdLeased: jest.Mock; settle: jest.Mock };
  let sut: ChatCompletionsService;

  beforeEach(() => {
    providers = { resolveModel: jest.fn().mockReturnValue(MODEL), stream: jest.fn() };
    quota = {
      assertWithinQuota: jest.fn().mockResolvedValue(undefined),
      recordUsage: jest.fn().mockResolvedValue(undefined),
    };
    chat = { begin: jest.fn() };
    budgets = {
      reserve: jest.fn().mockResolvedValue(undefined),
      holdLeased: jest.fn().mockResolvedValue(undefined),
      settle: jest.fn().mockResolvedValue(undefined),
    };
    const config = AppConfig.fromEnv({ SECRET_KEY: 'k3Jq9vX2mW8pL5tR7yB4nC6dF1gH0sZa' });
    sut = new ChatCompletionsService(
      providers as unknown as ProvidersService,
      quota as unknown as QuotaService,
      chat as unknown as ChatService,
      config,
      budgets as unknown as BudgetService,
      new PriceCatalog(config),
    );
  });

  it('streams the reply statelessly, with the provider usage charged to the user and the key', async () => {
    providers.stream.mockReturnValue(events(reply('Hel', 'lo')));
    const run = await sut.begin('u1', input(), undefined, KEY);
    expect(quota.assertWithinQuota).toHaveBeenCalledWith('u1', KEY);
    // No reply is stored: the reservation is held under a leased id of its own.
    expect(budgets.holdLeased).toHaveBeenCalledWith(undefined, expect.stringMatching(/^v1:/));
    const seen: string[] = [];
    const result = await run.run((text) => seen.push(text));
    expect(seen).toEqual(['Hel', 'lo']);
    expect(result).toEqual({
      text: 'Hello',
      model: MODEL.id,
      finishReason: 'stop',
      usage: { prompt_tokens: 7, completion_tokens: 3, total_tokens: 10 },
    });
    expect(run.sessionId).toBeUndefined();
    expect(quota.recordUsage).toHaveBeenCalledWith('u1', 10, KEY.id);
    expect(chat.begin).not.toHaveBeenCalled();
  });

  it('ends at a stop sequence, closes the upstream stream and charges what was sent', async () => {
    let closed = false;
    providers.stream.mockReturnValue(
      (async function* () {
        try {
          yield* events(reply('one two ', 'STOP three'));
        } finally {
          closed = true;
        }
      })(),
    );
    const run = await sut.begin('u1', input({ stops: ['STOP'] }), undefined);
    const result = await run.run(() => undefined);
    expect(result.text).toBe('one two ');
    expect(result.finishReason).toBe('stop');
    expect(closed).toBe(true);
    expect(result.usage.completion_tokens).toBeGreaterThan(0);
    expect(result.usage.total_tokens).toBe(
      result.usage.prompt_tokens + result.usage.completion_tokens,
    );
  });

  it('reports a provider failure with the partial text instead of throwing', async () => {
    const failure = new ProviderUnavailableError('The AI provider is temporarily unavailable', 5);
    providers.stream.mockReturnValue(events(reply('partial').slice(0, 2), failure));
    const result = await (await sut.begin('u1', input(), undefined)).run(() => undefined);
    expect(result.failure).toBe(failure);
    expect(result.text).toBe('partial');
    expect(quota.recordUsage).toHaveBeenCalled();
  });

  it('raises client errors before anything runs: unknown model, context too long, quota', async () => {
    providers.resolveModel.mockImplementation(() => {
      throw new InvalidInputError('Unknown model');
    });
    await expect(sut.begin('u1', input({ model: 'x/y' }), undefined)).rejects.toBeInstanceOf(
      ModelNotFoundError,
    );
    providers.resolveModel.mockReturnValue(MODEL);
    const long = input({ messages: [{ role: 'user', content: 'word '.repeat(2000) }] });
    await expect(sut.begin('u1', long, undefined)).rejects.toBeInstanceOf(
      ContextLengthExceededError,
    );
    quota.assertWithinQuota.mockRejectedValue(new RateLimitedError('Too many', 3));
    await expect(sut.begin('u1', input(), undefined)).rejects.toBeInstanceOf(RateLimitedError);
    expect(providers.stream).not.toHaveBeenCalled();
  });

  it('stores through the chat turn: last user message, joined system prompt, the session', async () => {
    const turn = {
      sessionId: 's1',
      model: MODEL.id,
      run: jest.fn().mockResolvedValue({
        session_id: 's1',
        message_id: 'm1',
        reply: 'Hi',
        model: MODEL.id,
        usage: { prompt_tokens: 1, completion_tokens: 1, tokens: 2 },
        finish_reason: 'stop',
        created_at: '2026-12-01T00:00:00.000Z',
      }),
      abort: jest.fn(),
    };
    chat.begin.mockResolvedValue(turn);
    const messages = [
      { role: 'system' as const, content: 'A' },
      { role: 'user' as const, content: 'ignored: the session is the context' },
      { role: 'system' as const, content: 'B' },
      { role: 'user' as const, content: 'new message' },
    ];
    const run = await sut.begin('u1', input({ messages, temperature: 0.5 }), 's1', KEY);
    expect(chat.begin).toHaveBeenCalledWith(
      'u1',
      {
        message: 'new message',
        sessionId: 's1',
        model: MODEL.id,
        systemPrompt: 'A\n\nB',
        temperature: 0.5,
        maxTokens: undefined,
      },
      { apiKey: KEY },
    );
    expect(run.sessionId).toBe('s1');
    expect((await run.run(() => undefined)).usage).toEqual({
      prompt_tokens: 1,
      completion_tokens: 1,
      total_tokens: 2,
    });
  });

  it('refuses to store without a final user message, or with stop sequences', async () => {
    const assistantLast = input({
      store: true,
      messages: [{ role: 'assistant', content: 'hi' }],
    });
    await expect(sut.begin('u1', assistantLast, undefined)).rejects.toThrow(
      'the last message must be a non-blank user message when the exchange is stored',
    );
    await expect(sut.begin('u1', input({ store: true, stops: ['x'] }), undefined)).rejects.toThrow(
      'stop cannot be used when the exchange is stored',
    );
    expect(chat.begin).not.toHaveBeenCalled();
  });
});
