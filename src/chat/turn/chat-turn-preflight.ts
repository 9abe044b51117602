import { Inject, Injectable, Optional } from '@nestjs/common';
import { codePointLength, ConflictError, InvalidInputError } from '@app/common';
import { AppConfig } from '@app/config';
import { kindOf } from '../../files/file-kinds';
import { FilesService } from '../../files/files.service';
import type {
  MessageAttachment,
  MessageRecord,
  SessionRecord,
  SessionSettings,
  StoredToolCall,
} from '../../history/history-store.interface';
import { HistoryService, type TurnTarget } from '../../history/history.service';
import type { ProviderMessage } from '../../providers/chat-provider.interface';
import { PresetsService } from '../../presets/presets.service';
import { ServerToolRegistry } from '../../tools/server-tool-registry';
import { ProvidersService } from '../../providers/providers.service';
import { QuotaService } from '../../providers/quota.service';
import { countMessagesTokens } from '../../providers/token-counter';
import { BudgetService, type BudgetReservation } from '../../usage/budget/budget.service';
import { ChatInput, ChatTurnOptions, fingerprintInput } from '../chat-input';
import { checkModelTakes, promptMessage } from '../attachment-prompt';
import { buildContext } from '../context-builder';
import { GenerationRegistry } from '../generation-registry';
import { PendingReplyKeys } from '../generations/pending-reply-keys';
import {
  IDEMPOTENCY_STORE,
  IdempotencyStore,
  StoredChatResult,
} from '../idempotency/idempotency-store';
import { IN_FLIGHT_LOCK, InFlightLock, LockHandle } from '../locks/in-flight-lock';
import type { ToolResultInput } from '../tool-input';
import { SessionTitleService } from './session-title.service';

/** The 409 detail of a second request on a session that is generating. */
export const SESSION_BUSY_DETAIL = 'A reply is already being generated for this session';
/** Earlier messages loaded for the context; older ones are never sent (trimming starts here). */
export const HISTORY_LIMIT = 200;
/** Session locks expire this long after their holder stopped renewing them (crash). */
const LOCK_TTL_MS = 30_000;

/** The in-flight lock key of a session: one generation at a time, on any instance. */
export const sessionLockKey = (sessionId: string) => `session:${sessionId}`;

/** An idempotent request: its user-scoped key and the digest of its body. */
export interface IdempotencyClaim {
  key: string;
  fingerprint: string;
}

/** Everything the runner needs about a turn that the preflight prepared. */
export interface PreparedTurn {
  userId: string;
  /** The personal API key the turn was made with; its tokens count in its own quota too. */
  apiKeyId?: string;
  sessionId: string;
  /** The pending assistant message the reply is stored in. */
  messageId: string;
  createdAt: Date;
  model: string;
  /** The prompt: system prompt, earlier messages that fit, the new message. */
  messages: ProviderMessage[];
  promptTokens: number;
  input: ChatInput;
  controller: AbortController;
  lock: LockHandle;
  idempotency?: IdempotencyClaim;
  /** True when this turn is the session's first exchange (a generated title may follow). */
  firstExchange: boolean;
  /** The spend reserved for the call; the runner settles it to the real cost. */
  budget?: BudgetReservation;
}

/** A new turn to run, or the stored outcome of an earlier request with the same key. */
export type Preflight = { turn: PreparedTurn } | { replay: StoredChatResult };

/**
 * Everything of a chat turn that can fail with a client error, before anything is streamed or
 * stored twice: message length (400), Idempotency-Key (replay or 409), the session (404 for an
 * unknown or another user's), the session lock (409), quota (429), the context (400 when the
 * message cannot fit the model), the spend budget (429; the call's most cost is reserved). Then
 * it stores the user message and a `pending` reply. On any failure the lock, the idempotency
 * claim and the reservation are released.
 */
@Injectable()
export class ChatTurnPreflight {
  constructor(
    private readonly history: HistoryService,
    private readonly providers: ProvidersService,
    private readonly quota: QuotaService,
    private readonly titles: SessionTitleService,
    @Inject(IN_FLIGHT_LOCK) private readonly locks: InFlightLock,
    @Inject(IDEMPOTENCY_STORE) private readonly idempotency: IdempotencyStore,
    private readonly registry: GenerationRegistry,
    private readonly config: AppConfig,
    private readonly presets: PresetsService,
    private readonly files: FilesService,
    @Optional() private readonly budgets?: BudgetService,
    @Optional() private readonly serverTools?: ServerToolRegistry,
    @Optional() private readonly replyKeys?: PendingReplyKeys,
  ) {}

  async prepare(
    userId: string,
    input: ChatInput,
    options: ChatTurnOptions = {},
  ): Promise<Preflight> {
    this.checkMessage(input.message);
    checkTarget(input);
    this.checkToolNames(input);
    const idempotency = options.idempotencyKey
      ? { key: `${userId}:${options.idempotencyKey}`, fingerprint: fingerprintInput(input) }
      : undefined;
    if (idempotency) {
      const replay = await this.claim(idempotency);
      if (replay) return { replay };
    }
    let lock: LockHandle | undefined;
    let budget: BudgetReservation | undefined;
    try {
      const existing = await this.existingSession(userId, input.sessionId);
      // A preset's settings, then the session's own, stand in for what the request does not send.
      const preset =
        input.presetId !== undefined
          ? await this.presets.settings(userId, input.presetId)
          : undefined;
      const settings = layered(preset, existing?.settings);
      const model = this.turnModel(input.model, settings?.model);
      const attached = input.attachments
        ? await this.files.requireOwned(userId, input.attachments)
        : [];
      checkModelTakes(model, attached.map(withKind), this.providers.listModels());
      const chosenModel = input.model !== undefined || Boolean(preset?.model);
      input = withSettings(input, settings);
      if (existing) lock = await this.lockSession(existing.id);
      await this.quota.assertWithinQuota(userId, options.apiKey);
      // Read under the lock: where in the message tree this turn attaches and what it continues.
      const base = existing
        ? await this.history.turnBase(userId, existing.id, turnTarget(input), HISTORY_LIMIT)
        : undefined;
      const attachments: MessageAttachment[] =
        base?.regenerated?.attachments ??
        attached.map((file) => ({ id: file.id, name: file.name, mediaType: file.mediaType }));
      if (base?.regenerated) {
        checkModelTakes(model, attachments.map(withKind), this.providers.listModels());
      }
      // A continuation: the waiting reply with the client's results, the prompt's last message.
      const answered = base?.waiting
        ? answerToolCalls(base.waiting.toolCalls, input.toolResults ?? [])
        : undefined;
      const history =
        base?.waiting && answered
          ? [...base.history.slice(0, -1), { ...base.waiting, toolCalls: answered }]
          : (base?.history ?? []);
      const files = await this.files.load(
        userId,
        [...history, { attachments }].flatMap((m) => m.attachments.map((a) => a.id)),
      );
      const promptOf = (message: Pick<MessageRecord, 'role' | 'content' | 'attachments'>) =>
        promptMessage(message.role, message.content, message.attachments, files, model.inputs);
      const context = buildContext(
        {
          systemPrompt: input.systemPrompt,
          history,
          userMessage: answered
            ? undefined
            : promptOf({
                role: 'user',
                content: base?.regenerated?.content ?? input.message,
                attachments,
              }),
          promptOf,
          contextWindow: model.contextWindow,
          replyBudget: input.maxTokens ?? this.config.chat.replyTokenBudget,
        },
        countMessagesTokens,
      );
      budget = await this.budgets?.reserve(
        userId,
        model.id,
        context.promptTokens,
        input.maxTokens ?? this.config.chat.replyTokenBudget,
      );

      const firstExchange = !existing || existing.messageCount === 0;
      if (existing && firstExchange) {
        await this.titles.titleUntitled(userId, existing, input.message);
      }
      const session =
        existing ??
        (await this.history.createSession(
          userId,
          this.titles.derive(input.message),
          settingsOf(input, chosenModel ? model.id : null),
        ));
      lock ??= await this.lockSession(session.id);
      const reply = base?.regenerated
        ? await this.history.startRegeneration(session.id, base.regenerated.id, model.id)
        : base?.waiting && answered
          ? await this.history.continueAfterToolCalls(
              session.id,
              base.waiting.id,
              answered,
              model.id,
            )
          : await this.history.startExchange(
              session.id,
              input.message,
              model.id,
              base?.parentId,
              attachments,
            );
      await this.budgets?.hold(budget, reply.id);
      await this.files.recordUse(
        session.id,
        attachments.map((file) => file.id),
      );
      // Durable, so a sweeper can charge the key for this reply if this instance dies.
      if (options.apiKey) await this.replyKeys?.remember(reply.id, options.apiKey.id);
      return {
        turn: {
          userId,
          apiKeyId: options.apiKey?.id,
          sessionId: session.id,
          messageId: reply.id,
          createdAt: reply.createdAt,
          model: model.id,
          messages: context.messages,
          promptTokens: context.promptTokens,
          input,
          controller: this.registry.register(session.id, userId, reply.id),
          lock,
          idempotency,
          firstExchange,
          budget,
        },
      };
    } catch (error) {
      await this.budgets?.release(budget);
      await lock?.release();
      if (idempotency) await this.idempotency.release(idempotency.key).catch(() => undefined);
      throw error;
    }
  }

  /**
   * The model of a turn: the request's (unknown → 400), else the session's — or the default when
   * that one has left the configuration since it was chosen — else the default.
   */
  private turnModel(requested: string | undefined, stored: string | null | undefined) {
    if (requested !== undefined || !stored) return this.providers.resolveModel(requested);
    try {
      return this.providers.resolveModel(stored);
    } catch (error) {
      if (!(error instanceof InvalidInputError)) throw error;
      return this.providers.resolveModel(undefined);
    }
  }

  /** A client tool may not take the name of an enabled server-side tool (400). */
  private checkToolNames(input: ChatInput): void {
    const taken = input.tools?.findIndex((tool) => this.serverTools?.has(tool.name)) ?? -1;
    if (taken < 0) return;
    const field = `tools[${taken}].name`;
    const message = `${input.tools![taken].name} is the name of a server-side tool of this deployment`;
    throw new InvalidInputError(`${field} ${message}`, [{ field, message }]);
  }

  private checkMessage(message: string): void {
    const max = this.config.chat.maxMessageChars;
    if (codePointLength(message) > max) {
      throw new InvalidInputError(`message must be at most ${max} characters`, [
        { field: 'message', message: `must be at most ${max} characters` },
      ]);
    }
  }

  /** Claims the key; returns the stored result of a finished earlier request, 409 otherwise. */
  private async claim({ key, fingerprint }: IdempotencyClaim): Promise<StoredChatResult | null> {
    const existing = await this.idempotency.claim(
      key,
      fingerprint,
      Math.ceil(this.config.ai.resilience.totalTimeoutMs / 1000) + 60,
    );
    if (!existing) return null;
    if (existing.fingerprint !== fingerprint) {
      throw new ConflictError(
        'This Idempotency-Key was already used with a different request body',
      );
    }
    if (existing.state === 'running') {
      throw new ConflictError('A request with this Idempotency-Key is still being processed');
    }
    return existing.result;
  }

  /** The caller's session the message continues (404 rule in HistoryService), or null for a new one. */
  private async existingSession(
    userId: string,
    sessionId: string | null | undefined,
  ): Promise<SessionRecord | null> {
    if (sessionId === undefined || sessionId === null) return null;
    return this.history.requireSession(userId, sessionId);
  }

  private async lockSession(sessionId: string): Promise<LockHandle> {
    const lock = await this.locks.acquire(sessionLockKey(sessionId), LOCK_TTL_MS);
    if (!lock) throw new ConflictError(SESSION_BUSY_DETAIL);
    return lock;
  }
}

/** The tree position a request asks for (regenerate_of / parent_id), as HistoryService takes it. */
function turnTarget(input: ChatInput): TurnTarget {
  return {
    ...(input.toolResults !== undefined ? { continueToolCalls: true } : {}),
    ...(input.regenerateOf !== undefined ? { regenerateOf: input.regenerateOf } : {}),
    ...(input.parentId !== undefined ? { parentId: input.parentId } : {}),
  };
}

/**
 * regenerate_of, parent_id and tool_results need a session and exclude each other; regenerate_of
 * and tool_results take no message and no attachments.
 */
function checkTarget(input: ChatInput): void {
  const fail = (field: string, message: string) => {
    throw new InvalidInputError(`${field} ${message}`, [{ field, message }]);
  };
  if (input.toolResults !== undefined) {
    if (input.regenerateOf !== undefined) {
      fail('regenerate_of', 'cannot be combined with tool_results');
    }
    if (input.parentId !== undefined) fail('parent_id', 'cannot be combined with tool_results');
    if (input.message !== '') fail('message', 'must be absent with tool_results');
    if (input.attachments !== undefined) fail('attachments', 'must be absent with tool_results');
    if (input.sessionId === undefined || input.sessionId === null) {
      fail('session_id', 'is required with tool_results');
    }
    return;
  }
  const branching = input.regenerateOf !== undefined || input.parentId !== undefined;
  if (!branching) return;
  if (input.regenerateOf !== undefined && input.parentId !== undefined) {
    fail('parent_id', 'cannot be combined with regenerate_of');
  }
  if (input.regenerateOf !== undefined && input.message !== '') {
    fail('message', 'must be absent with regenerate_of (send parent_id to edit instead)');
  }
  if (input.regenerateOf !== undefined && input.attachments !== undefined) {
    fail('attachments', 'must be absent with regenerate_of (the reply sees the original ones)');
  }
  if (input.sessionId === undefined || input.sessionId === null) {
    fail('session_id', 'is required with regenerate_of or parent_id');
  }
}

/**
 * The waiting reply's calls with the client's results on its waiting client calls. The results
 * must answer exactly those calls: 400 naming the missing or unknown ids otherwise.
 */
function answerToolCalls(calls: StoredToolCall[], results: ToolResultInput[]): StoredToolCall[] {
  const waiting = calls.filter((call) => call.executedBy === 'client' && !call.result);
  const byId = new Map(results.map((result) => [result.toolCallId, result]));
  const unknown = results.filter(
    (result) => !waiting.some((call) => call.id === result.toolCallId),
  );
  const missing = waiting.filter((call) => !byId.has(call.id));
  if (unknown.length || missing.length) {
    const problems = [
      ...(missing.length ? [`missing results for ${missing.map((c) => c.id).join(', ')}`] : []),
      ...(unknown.length
        ? [`no waiting call has the id ${unknown.map((r) => r.toolCallId).join(', ')}`]
        : []),
    ].join('; ');
    throw new InvalidInputError(`tool_results must answer exactly the waiting calls: ${problems}`, [
      { field: 'tool_results', message: problems },
    ]);
  }
  return calls.map((call) => {
    const result = byId.get(call.id);
    return result && !call.result
      ? { ...call, result: { content: result.content, isError: result.isError } }
      : call;
  });
}

/** A file's name and type with the kind of input it is (image, pdf, text). */
function withKind(file: { name: string; mediaType: string }) {
  return { name: file.name, mediaType: file.mediaType, kind: kindOf(file.mediaType) };
}

/** The request with the session's settings for the values it does not send itself. */
function withSettings(input: ChatInput, settings: SessionSettings | undefined): ChatInput {
  if (!settings) return input;
  return {
    ...input,
    systemPrompt: input.systemPrompt ?? settings.systemPrompt ?? undefined,
    temperature: input.temperature ?? settings.temperature ?? undefined,
    maxTokens: input.maxTokens ?? settings.maxTokens ?? undefined,
  };
}

/** Settings where `over` sets a value, else `under`'s (either may be absent). */
function layered(
  over: SessionSettings | undefined,
  under: SessionSettings | undefined,
): SessionSettings | undefined {
  if (!over || !under) return over ?? under;
  return {
    systemPrompt: over.systemPrompt ?? under.systemPrompt,
    model: over.model ?? under.model,
    temperature: over.temperature ?? under.temperature,
    maxTokens: over.maxTokens ?? under.maxTokens,
  };
}

/**
 * A new session's settings: what its first request sent or its preset gave, and the model as the
 * catalog names it when one of them chose it.
 */
function settingsOf(input: ChatInput, model: string | null): SessionSettings {
  return {
    systemPrompt: input.systemPrompt ?? null,
    model,
    temperature: input.temperature ?? null,
    maxTokens: input.maxTokens ?? null,
  };
}
