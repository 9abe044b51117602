import {
  Inject,
  Injectable,
  Logger,
  OnApplicationBootstrap,
  OnApplicationShutdown,
  Optional,
} from '@nestjs/common';
import { HistoryService } from '../../history/history.service';
import { QuotaService } from '../../providers/quota.service';
import { countTokens } from '../../providers/token-counter';
import { BudgetService, type InterruptedSettlement } from '../../usage/budget/budget.service';
import { PriceCatalog } from '../../usage/price-catalog';
import { UsageLedger } from '../../usage/usage-ledger';
import { eventPayload } from '../chat-events';
import { ReplyFailedError } from '../chat-turn';
import { GenerationRegistry } from '../generation-registry';
import { IN_FLIGHT_LOCK, InFlightLock } from '../locks/in-flight-lock';
import { sessionLockKey } from '../turn/chat-turn-preflight';
import type { PendingReply } from '../../history/history-store.interface';
import { GenerationEventLog } from './generation-event-log';
import { PendingReplyKeys } from './pending-reply-keys';

/** The stored `error` of a reply whose instance died while generating it. */
export const INTERRUPTED_DETAIL = 'interrupted';
/** How often every instance looks for interrupted replies (and once at start-up). */
export const SWEEP_INTERVAL_MS = 10_000;
/** Replies finished per sweep at most; the rest wait for the next one. */
const SWEEP_BATCH = 100;

/**
 * Finishes the replies whose instance is gone (killed, crashed, lost) so nothing stays `pending`:
 * the lease of a generation is its session lock, which the owner holds and renews from before the
 * pending reply is stored until after its outcome is stored (Redis: expires 30 s after the last
 * renewal; in process: gone with the process). A pending reply whose lock nobody holds is stored as
 * `error` "interrupted" with its last checkpointed text (at most CHAT__CHECKPOINT_MS behind), its
 * tokens are charged (to the user, and to the API key the turn was made with: PendingReplyKeys),
 * its spend reservation is settled to the cost of that text (held in the budget store under the
 * reply's id), and its event log ends with that error so resumes end too. Runs at start-up
 * and every SWEEP_INTERVAL_MS on every instance; finishPendingReply makes sure only one of them
 * stores (and charges) it.
 */
@Injectable()
export class InterruptedReplySweeper implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(InterruptedReplySweeper.name);
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<number> | undefined;

  constructor(
    private readonly history: HistoryService,
    private readonly quota: QuotaService,
    @Inject(IN_FLIGHT_LOCK) private readonly locks: InFlightLock,
    private readonly registry: GenerationRegistry,
    private readonly events: GenerationEventLog,
    @Optional() private readonly budgets?: BudgetService,
    @Optional() private readonly replyKeys?: PendingReplyKeys,
    @Optional() private readonly ledger?: UsageLedger,
    @Optional() private readonly prices?: PriceCatalog,
  ) {}

  onApplicationBootstrap(): void {
    void this.sweepSafely();
    this.timer = setInterval(() => void this.sweepSafely(), SWEEP_INTERVAL_MS);
    this.timer.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    await this.running?.catch(() => undefined);
  }

  /**
   * One pass; resolves with the number of replies it finished. Budget reservations of stateless
   * calls whose instance died (no reply to find here) are settled in the same pass.
   */
  async sweep(): Promise<number> {
    await this.budgets?.settleExpiredLeases();
    const replies = await this.history.pendingReplies(new Date(), SWEEP_BATCH);
    let finished = 0;
    for (const reply of replies) {
      if (this.registry.isRunningHere(reply.sessionId)) continue;
      if (await this.locks.isHeld(sessionLockKey(reply.sessionId))) continue;
      const completionTokens = reply.content ? countTokens(reply.content) : 0;
      const stored = await this.history.finishPendingReply(reply.sessionId, reply.messageId, {
        status: 'error',
        error: INTERRUPTED_DETAIL,
        completionTokens,
      });
      if (!stored) continue; // Another instance got there first.
      finished++;
      this.logger.warn(
        { sessionId: reply.sessionId, messageId: reply.messageId },
        'Finished a reply interrupted by the loss of its instance',
      );
      const apiKeyId = await this.replyKeys
        ?.take(reply.messageId)
        .catch((error: unknown) =>
          this.logger.warn({ err: error }, 'Could not read the API key of an interrupted reply'),
        );
      if (completionTokens > 0) {
        await this.quota
          .recordUsage(reply.userId, completionTokens, apiKeyId ?? undefined)
          .catch((error: unknown) => this.logger.warn({ err: error }, 'Could not charge tokens'));
      }
      const settlement = await this.budgets?.settleInterrupted(reply.messageId, completionTokens);
      this.recordInterruptedAttempt(reply, completionTokens, apiKeyId ?? undefined, settlement);
      const error = new ReplyFailedError('upstream_unavailable', INTERRUPTED_DETAIL);
      await this.events
        .interrupt(reply.messageId, {
          type: 'error',
          data: eventPayload({ type: 'error', error, message_id: reply.messageId }),
        })
        .catch((failure: unknown) =>
          this.logger.warn({ err: failure }, 'Could not end the events of an interrupted reply'),
        );
    }
    return finished;
  }

  /**
   * The usage-ledger row of the attempt the dead instance never wrote (status `interrupted`): its
   * checkpointed reply tokens, and its prompt and cost as the budget reservation priced them, else
   * the reply tokens alone at the model's price (the prompt's size died with the instance).
   */
  private recordInterruptedAttempt(
    reply: PendingReply,
    completionTokens: number,
    apiKeyId: string | undefined,
    settlement: InterruptedSettlement | undefined,
  ): void {
    if (!this.ledger || !reply.model) return;
    const promptTokens = settlement?.promptTokens ?? 0;
    const usage = { promptTokens, completionTokens, totalTokens: promptTokens + completionTokens };
    this.ledger.record({
      userId: reply.userId,
      apiKeyId,
      sessionId: reply.sessionId,
      messageId: reply.messageId,
      provider: reply.model.split('/')[0],
      model: reply.model,
      promptTokens,
      completionTokens,
      cachedTokens: 0,
      costMicros: settlement?.costMicros ?? this.prices?.costMicros(reply.model, usage) ?? null,
      latencyMs: Date.now() - reply.createdAt.getTime(),
      status: INTERRUPTED_DETAIL,
      fallbackStep: 0,
      retry: 0,
      createdAt: new Date(),
    });
  }

  private async sweepSafely(): Promise<void> {
    if (this.running) return;
    this.running = this.sweep();
    try {
      await this.running;
    } catch (error) {
      this.logger.warn({ err: error }, 'Could not look for interrupted replies');
    } finally {
      this.running = undefined;
    }
  }
}
