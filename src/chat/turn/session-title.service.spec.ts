import { randomBytes } from 'node:crypto';
import { AppConfig } from '@app/config';
import { sessionRecord } from '../../../test/factories/chat-turn.factory';
import type { HistoryService } from '../../history/history.service';
import { ProviderError } from '../../providers/provider.errors';
import type { ProvidersService } from '../../providers/providers.service';
import { FirstExchange, SessionTitleService } from './session-title.service';

const exchange: FirstExchange = {
  userId: 'alice',
  sessionId: 's-1',
  model: 'openai/gpt-4o-mini',
  message: 'How do I bake sourdough bread at home?',
  reply: 'Start with a lively starter…',
};

describe(SessionTitleService.name, () => {
  let history: jest.Mocked<Pick<HistoryService, 'renameSession'>>;
  let providers: jest.Mocked<Pick<ProvidersService, 'complete'>>;

  const newSut = (env: Record<string, string> = {}) =>
    new SessionTitleService(
      history as unknown as HistoryService,
      providers as unknown as ProvidersService,
      AppConfig.fromEnv({ SECRET_KEY: randomBytes(32).toString('hex'), ...env }),
    );

  /** Lets the background generation finish. */
  const settle = () => new Promise((resolve) => setImmediate(resolve));

  beforeEach(() => {
    history = { renameSession: jest.fn().mockResolvedValue(undefined) };
    providers = {
      complete: jest.fn().mockResolvedValue({
        text: '"Baking Sourdough at Home."\nextra line',
        model: exchange.model,
        usage: { promptTokens: 30, completionTokens: 5, totalTokens: 35 },
        finishReason: 'stop',
      }),
    };
  });

  it('derives a title from the first message, cut on a word boundary', () => {
    expect(newSut().derive(`Plan a ${'very '.repeat(20)}long trip`)).toMatch(/^Plan a very .*…$/);
  });

  it('titles an untitled session only', async () => {
    const sut = newSut();
    await sut.titleUntitled('alice', sessionRecord({ id: 's-1', title: null }), 'Hello there');
    await sut.titleUntitled('alice', sessionRecord({ id: 's-2', title: 'Kept' }), 'Hello');

    expect(history.renameSession).toHaveBeenCalledTimes(1);
    expect(history.renameSession).toHaveBeenCalledWith('alice', 's-1', 'Hello there');
  });

  it('replaces the derived title with the cleaned generated one', async () => {
    newSut().generateInBackground(exchange);
    await settle();

    expect(providers.complete).toHaveBeenCalledWith(
      expect.objectContaining({ model: exchange.model, userId: 'alice', maxTokens: 16 }),
    );
    expect(history.renameSession).toHaveBeenCalledWith('alice', 's-1', 'Baking Sourdough at Home');
  });

  it('keeps the derived title when generation fails', async () => {
    providers.complete.mockRejectedValue(new ProviderError());

    newSut().generateInBackground(exchange);
    await settle();

    expect(history.renameSession).not.toHaveBeenCalled();
  });

  it('does not ask the offline local model or when CHAT__GENERATE_TITLES is off', async () => {
    newSut().generateInBackground({ ...exchange, model: 'local/echo' });
    newSut({ CHAT__GENERATE_TITLES: 'false' }).generateInBackground(exchange);
    await settle();

    expect(providers.complete).not.toHaveBeenCalled();
  });
});
