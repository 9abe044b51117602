import { Inject, Injectable, Logger } from '@nestjs/common';
import {
  codePointLength,
  ConflictError,
  DomainError,
  InvalidInputError,
  mapError,
} from '@app/common';
import { AppConfig } from '@app/config';
import {
  HISTORY_STORE,
  HistoryStore,
  MessageRecord,
  SessionRecord,
} from '../history/history-store.interface';
import { SessionNotFoundError } from '../history/history.errors';
import { parseSessionId } from '../history/session-id';
import type { FinishReason, ProviderMessage } from '../providers/chat-provider.interface';
import { GenerationAbortedError } from '../providers/provider.errors';
import { ProvidersService } from '../providers/providers.service';
import { QuotaService } from '../providers/quota.service';
import { countMessagesTokens, countTokens } from '../providers/token-counter';
import type { ChatEvent, FinishReasonPayload, UsagePayload } from './chat-events';
import { ChatInput, ChatTurnOptions, fingerprintInput } from './chat-input';
import type { ChatEventListener, ChatTurn, TurnOutcome } from './chat-turn';
import { buildContext } from './context-builder';
import { GenerationRegistry } from './generation-registry';
import {
  IDEMPOTENCY_STORE,
  IdempotencyStore,
  StoredChatResult,
} from './idempotency/idempotency-store';
import { IN_FLIGHT_LOCK, InFlightLock, LockHandle } from './locks/in-flight-lock';
import { cleanGeneratedTitle, titleFromMessage } from './session-title';

/** The 409 detail of a second request on a session that is generating. */
export const SESSION_BUSY_DETAIL = 'A reply is already being generated for this session';
/** Earlier messages loaded for the context; older ones are never sent (trimming starts here). */
export const HISTORY_LIMIT = 200;
/** Session locks expire this long after their holder stopped renewing them (crash). */
const LOCK_TTL_MS = 30_000;

interface ResolvedModel {
  id: string;
  contextWindow?: number;
}

/**
 * The chat use case, shared by REST, SSE, Socket.IO and WebSocket. `begin` does everything that
 * can fail with a client error (validation, 404, 409, 429) before anything is streamed or stored
 * twice; `ChatTurn.run` streams the reply and always stores the outcome.
 */
@Injectable()
export class ChatService {
  private readonly logger = new Logger(ChatService.name);

  constructor(
    @Inject(HISTORY_STORE) private readonly history: HistoryStore,
    private readonly providers: ProvidersService,
    private readonly quota: QuotaService,
    @Inject(IN_FLIGHT_LOCK) private readonly locks: InFlightLock,
    @Inject(IDEMPOTENCY_STORE) private readonly idempotency: IdempotencyStore,
    private readonly registry: GenerationRegistry,
    private readonly config: AppConfig,
  ) {}

  /**
   * Validates and prepares one turn: idempotency, session (404 for unknown or another user's),
   * session lock (409), quota (429), context (400 when the message cannot fit the model), then
   * stores the user message and a `pending` assistant message.
   */
  async begin(userId: string, input: ChatInput, options: ChatTurnOptions = {}): Promise<ChatTurn> {
    this.checkMessage(input.message);
    const idempotencyKey = options.idempotencyKey
      ? `${userId}:${options.idempotencyKey}`
      : undefined;
    // Only an idempotent request is ever compared with an earlier one.
    const fingerprint = idempotencyKey ? fingerprintInput(input) : '';
    if (idempotencyKey) {
      const existing = await this.idempotency.claim(
        idempotencyKey,
        fingerprint,
        Math.ceil(this.config.ai.resilience.totalTimeoutMs / 1000) + 60,
      );
      if (existing) {
        if (existing.fingerprint !== fingerprint) {
          throw new ConflictError(
            'This Idempotency-Key was already used with a different request body',
          );
        }
        if (existing.state === 'running') {
          throw new ConflictError('A request with this Idempotency-Key is still being processed');
        }
        return new ReplayedTurn(existing.result);
      }
    }

    let lock: LockHandle | null = null;
    try {
      const model: ResolvedModel = this.providers.resolveModel(input.model);
      let session: SessionRecord | null = null;
      let earlier: MessageRecord[] = [];
      if (input.sessionId !== undefined && input.sessionId !== null) {
        // A malformed id is answered like an unknown one (404) and never reaches a query.
        const sessionId = parseSessionId(input.sessionId);
        session = sessionId ? await this.history.getSession(userId, sessionId) : null;
        if (!session) throw new SessionNotFoundError();
        lock = await this.locks.acquire(`session:${session.id}`, LOCK_TTL_MS);
        if (!lock) throw new ConflictError(SESSION_BUSY_DETAIL);
      }
      await this.quota.assertWithinQuota(userId);
      if (session) earlier = await this.history.recentMessages(session.id, HISTORY_LIMIT);

      const context = buildContext(
        {
          systemPrompt: input.systemPrompt,
          history: earlier,
          userMessage: input.message,
          contextWindow: model.contextWindow,
          replyBudget: input.maxTokens ?? this.config.chat.replyTokenBudget,
        },
        countMessagesTokens,
      );

      const isFirstExchange = !session || session.messageCount === 0;
      if (!session) {
        session = await this.history.createSession(userId, titleFromMessage(input.message));
        lock = await this.locks.acquire(`session:${session.id}`, LOCK_TTL_MS);
        if (!lock) throw new ConflictError(SESSION_BUSY_DETAIL);
      } else if (isFirstExchange && !session.title) {
        await this.history.renameSession(userId, session.id, titleFromMessage(input.message));
      }

      const [, assistant] = await this.history.appendMessages(session.id, [
        { role: 'user', content: input.message, status: 'complete' },
        { role: 'assistant', content: '', status: 'pending', model: model.id },
      ]);
      if (!lock) throw new ConflictError(SESSION_BUSY_DETAIL);
      const controller = this.registry.register(session.id, userId);
      return new LiveTurn(this, {
        userId,
        sessionId: session.id,
        messageId: assistant.id,
        createdAt: assistant.createdAt,
        model: model.id,
        messages: context.messages,
        promptTokens: context.promptTokens,
        input,
        controller,
        lock,
        idempotencyKey,
        fingerprint,
        generateTitle: isFirstExchange && this.config.chat.generateTitles,
      });
    } catch (error) {
      await lock?.release();
      if (idempotencyKey) await this.idempotency.release(idempotencyKey).catch(() => undefined);
      throw error;
    }
  }

  /**
   * Stops the running generation of a session (on any instance). 404 for an unknown session or
   * another user's. Returns whether a generation was running.
   */
  async abort(userId: string, sessionId: string): Promise<boolean> {
    const id = parseSessionId(sessionId);
    const session = id ? await this.history.getSession(userId, id) : null;
    if (!session) throw new SessionNotFoundError();
    const local = await this.registry.abort(session.id, 'user_request');
    if (local) return true;
    // Running on another instance: its lock is held (the abort was published to it).
    return this.locks.isHeld(`session:${session.id}`);
  }

  private checkMessage(message: string): void {
    const max = this.config.chat.maxMessageChars;
    if (codePointLength(message) > max) {
      throw new InvalidInputError(`message must be at most ${max} characters`, [
        { field: 'message', message: `must be at most ${max} characters` },
      ]);
    }
  }

  /** Streams the reply of a prepared turn and stores its outcome. Used by LiveTurn. */
  async generate(turn: PreparedTurn, emit: (event: ChatEvent) => void): Promise<TurnOutcome> {
    const signal = turn.controller.signal;
    emit({
      type: 'start',
      session_id: turn.sessionId,
      message_id: turn.messageId,
      model: turn.model,
    });
    let text = '';
    let model = turn.model;
    let usage: UsagePayload | undefined;
    let finishReason: FinishReason = 'stop';
    let failure: { detail: string; status: number; retryAfterSeconds?: number } | undefined;
    let aborted = false;
    try {
      const stream = this.providers.stream({
        model: turn.model,
        messages: turn.messages,
        temperature: turn.input.temperature,
        maxTokens: turn.input.maxTokens,
        signal,
        userId: turn.userId,
      });
      for await (const event of stream) {
        if (event.type === 'start') {
          model = event.model;
        } else if (event.type === 'delta') {
          if (!event.text) continue;
          text += event.text;
          emit({ type: 'delta', text: event.text });
        } else {
          model = event.model;
          finishReason = event.finishReason;
          usage = {
            prompt_tokens: event.usage.promptTokens,
            completion_tokens: event.usage.completionTokens,
            tokens: event.usage.totalTokens,
          };
        }
        if (signal.aborted) break;
      }
      if (signal.aborted) aborted = true;
    } catch (error) {
      if (signal.aborted || error instanceof GenerationAbortedError) {
        aborted = true;
      } else {
        const mapped = mapError(error);
        if (!(error instanceof DomainError)) {
          this.logger.error({ err: error, sessionId: turn.sessionId }, 'Chat generation failed');
        }
        failure = {
          detail: mapped.body.detail,
          status: mapped.status,
          retryAfterSeconds: mapped.retryAfterSeconds,
        };
      }
    }

    const status = aborted ? 'aborted' : failure ? 'error' : 'complete';
    const finish: FinishReasonPayload = aborted ? 'aborted' : failure ? 'error' : finishReason;
    // Without provider usage (abort, failure) the local estimate is stored and charged.
    usage ??= estimateUsage(turn.promptTokens, text);
    try {
      await this.history.updateMessage(turn.sessionId, turn.messageId, {
        content: text,
        status,
        model,
        promptTokens: usage.prompt_tokens,
        completionTokens: usage.completion_tokens,
        error: failure?.detail ?? null,
      });
    } catch (error) {
      this.logger.error(
        { err: error, sessionId: turn.sessionId, messageId: turn.messageId },
        'Could not store the assistant reply',
      );
    }
    if (status === 'complete' || text) {
      await this.quota
        .recordUsage(turn.userId, usage.tokens)
        .catch((error: unknown) =>
          this.logger.warn({ err: error, userId: turn.userId }, 'Could not record token usage'),
        );
    }

    const outcome: TurnOutcome = {
      session_id: turn.sessionId,
      message_id: turn.messageId,
      reply: text,
      model,
      usage,
      finish_reason: finish,
      created_at: turn.createdAt.toISOString(),
      ...(failure
        ? {
            error: { detail: failure.detail, status: failure.status },
            retryAfterSeconds: failure.retryAfterSeconds,
          }
        : {}),
    };
    if (turn.idempotencyKey) {
      const { retryAfterSeconds: _retry, ...stored } = outcome;
      await this.idempotency
        .complete(
          turn.idempotencyKey,
          turn.fingerprint,
          stored,
          this.config.chat.idempotencyTtlSeconds,
        )
        .catch((error: unknown) =>
          this.logger.warn({ err: error }, 'Could not store an idempotent result'),
        );
    }
    this.registry.unregister(turn.sessionId, turn.controller);
    await turn.lock.release();

    if (failure) {
      emit({
        type: 'error',
        detail: failure.detail,
        status: failure.status,
        message_id: turn.messageId,
      });
    } else {
      emit({
        type: 'done',
        message_id: turn.messageId,
        usage,
        finish_reason: finish,
        model,
      });
    }
    // The offline local provider can only echo: its "title" would be worse than the derived one.
    if (turn.generateTitle && status === 'complete' && !model.startsWith('local/')) {
      void this.generateTitle(turn.userId, turn.sessionId, model, turn.input.message, text);
    }
    return outcome;
  }

  /**
   * Asks the model for a short title after the first exchange and replaces the derived one.
   * Best effort: never blocks or fails the reply; errors are logged at debug level.
   */
  private async generateTitle(
    userId: string,
    sessionId: string,
    model: string,
    message: string,
    reply: string,
  ): Promise<void> {
    try {
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
        signal: AbortSignal.timeout(15_000),
      });
      const title = cleanGeneratedTitle(completion.text);
      if (title) await this.history.renameSession(userId, sessionId, title);
    } catch (error) {
      this.logger.debug(
        { err: error, sessionId },
        'Title generation failed; keeping the derived title',
      );
    }
  }
}

function estimateUsage(promptTokens: number, text: string): UsagePayload {
  const completion = text ? countTokens(text) : 0;
  return {
    prompt_tokens: promptTokens,
    completion_tokens: completion,
    tokens: promptTokens + completion,
  };
}

/** Everything `generate` needs about a turn that `begin` prepared. */
export interface PreparedTurn {
  userId: string;
  sessionId: string;
  messageId: string;
  createdAt: Date;
  model: string;
  messages: ProviderMessage[];
  promptTokens: number;
  input: ChatInput;
  controller: AbortController;
  lock: LockHandle;
  idempotencyKey?: string;
  fingerprint: string;
  generateTitle: boolean;
}

class LiveTurn implements ChatTurn {
  readonly replayed = false;
  private started: Promise<TurnOutcome> | undefined;

  constructor(
    private readonly service: ChatService,
    private readonly turn: PreparedTurn,
  ) {}

  get sessionId(): string {
    return this.turn.sessionId;
  }

  get messageId(): string {
    return this.turn.messageId;
  }

  get model(): string {
    return this.turn.model;
  }

  run(listener?: ChatEventListener): Promise<TurnOutcome> {
    this.started ??= this.service.generate(this.turn, (event) => safeEmit(listener, event));
    return this.started;
  }

  abort(): void {
    if (!this.turn.controller.signal.aborted) this.turn.controller.abort('client_disconnected');
  }
}

/** A retry with the same Idempotency-Key: the first outcome, told again as events. */
class ReplayedTurn implements ChatTurn {
  readonly replayed = true;

  constructor(private readonly result: StoredChatResult) {}

  get sessionId(): string {
    return this.result.session_id;
  }

  get messageId(): string {
    return this.result.message_id;
  }

  get model(): string {
    return this.result.model;
  }

  async run(listener?: ChatEventListener): Promise<TurnOutcome> {
    const r = this.result;
    safeEmit(listener, {
      type: 'start',
      session_id: r.session_id,
      message_id: r.message_id,
      model: r.model,
    });
    if (r.reply) safeEmit(listener, { type: 'delta', text: r.reply });
    safeEmit(
      listener,
      r.error
        ? {
            type: 'error',
            detail: r.error.detail,
            status: r.error.status,
            message_id: r.message_id,
          }
        : {
            type: 'done',
            message_id: r.message_id,
            usage: r.usage,
            finish_reason: r.finish_reason,
            model: r.model,
          },
    );
    return r;
  }

  abort(): void {}
}

function safeEmit(listener: ChatEventListener | undefined, event: ChatEvent): void {
  if (!listener) return;
  try {
    listener(event);
  } catch {
    // A transport that cannot deliver (closed socket) must not break storing the reply.
  }
}
