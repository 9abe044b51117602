import { Injectable, Logger, Optional } from '@nestjs/common';
import { AppConfig } from '@app/config';
import type { SessionRecord } from '../../history/history-store.interface';
import { HistoryService } from '../../history/history.service';
import type { ProviderMessage } from '../../providers/chat-provider.interface';
import { ProvidersService } from '../../providers/providers.service';
import { BudgetService } from '../../usage/budget/budget.service';
import { PriceCatalog } from '../../usage/price-catalog';
import { cleanGeneratedTitle, titleFromMessage } from '../session-title';

/** How long a title generation may take before it is given up. */
const TITLE_TIMEOUT_MS = 15_000;

/** The exchange a generated title summarises. */
export interface FirstExchange {
  userId: string;
  sessionId: string;
  /** The model that answered; it also writes the title. */
  model: string;
  message: string;
  reply: string;
}

/**
 * Session titles: derived from the first message when the exchange starts, then (CHAT__GENERATE_TITLES)
 * replaced by a short title the model writes once the first reply is complete.
 */
@Injectable()
export class SessionTitleService {
  private readonly logger = new Logger(SessionTitleService.name);

  constructor(
    private readonly history: HistoryService,
    private readonly providers: ProvidersService,
    private readonly config: AppConfig,
    @Optional() private readonly budgets?: BudgetService,
    @Optional() private readonly prices?: PriceCatalog,
  ) {}

  /** The title a new session gets from its first message. */
  derive(message: string): string {
    return titleFromMessage(message);
  }

  /** Gives an existing session without a title the one derived from its first message. */
  async titleUntitled(userId: string, session: SessionRecord, message: string): Promise<void> {
    if (!session.title) await this.history.renameSession(userId, session.id, this.derive(message));
  }

  /**
   * Starts the generated title of a first exchange, without waiting for it. Best effort: it never
   * fails the reply, and failures are logged at debug level (the derived title stays).
   */
  generateInBackground(exchange: FirstExchange): void {
    // The offline local provider can only echo: its "title" would be worse than the derived one.
    if (!this.config.chat.generateTitles || exchange.model.startsWith('local/')) return;
    void this.generate(exchange).catch((error: unknown) =>
      this.logger.debug(
        { err: error, sessionId: exchange.sessionId },
        'Title generation failed; keeping the derived title',
      ),
    );
  }

  /** Asks the model for a title of at most six words and renames the session with it. */
  async generate({ userId, sessionId, model, message, reply }: FirstExchange): Promise<void> {
    const prompt: ProviderMessage[] = [
      {
        role: 'system',
        content:
          'Write a title of at most six words for the conversation below. Answer with the title only, no quotes.',
      },
      {
        role: 'user',
        content: `User: ${message.slice(0, 1000)}\nAssistant: ${reply.slice(0, 1000)}`,
      },
    ];
    const completion = await this.providers.complete({
      model,
      messages: prompt,
      maxTokens: 16,
      temperature: 0.2,
      userId,
      sessionId,
      signal: AbortSignal.timeout(TITLE_TIMEOUT_MS),
    });
    // Not reserved (a few tokens, after the reply); charged so budgets match the ledger.
    await this.budgets?.charge(
      userId,
      this.prices?.costMicros(completion.model, completion.usage) ?? null,
    );
    const title = cleanGeneratedTitle(completion.text);
    if (title) await this.history.renameSession(userId, sessionId, title);
  }
}
