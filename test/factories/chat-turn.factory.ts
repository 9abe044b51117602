import { randomBytes, randomUUID } from 'node:crypto';
import { AppConfig } from '@app/config';
import { MemoryIdempotencyStore } from '../../src/chat/idempotency/memory-idempotency-store';
import { MemoryInFlightLock } from '../../src/chat/locks/memory-in-flight-lock';
import type { GenerationRegistry } from '../../src/chat/generation-registry';
import { MemoryGenerationEventLog } from '../../src/chat/generations/memory-generation-event-log';
import { ReplyCheckpointWriter } from '../../src/chat/turn/reply-checkpoint-writer';
import { ReplyWriteRetrier } from '../../src/chat/turn/reply-write-retrier';
import type { SessionTitleService } from '../../src/chat/turn/session-title.service';
import {
  type MessageRecord,
  NO_SETTINGS,
  type SessionRecord,
} from '../../src/history/history-store.interface';
import type { HistoryService } from '../../src/history/history.service';
import type { FilesService } from '../../src/files/files.service';
import type { GenerationEvent } from '../../src/providers/generation.types';
import type { ProvidersService } from '../../src/providers/providers.service';
import type { QuotaService } from '../../src/providers/quota.service';
import type { PresetsService } from '../../src/presets/presets.service';

/** The collaborators of the chat turn stages: mocks, except the in-memory lock and idempotency store. */
export interface ChatTurnDeps {
  history: jest.Mocked<HistoryService>;
  providers: jest.Mocked<ProvidersService>;
  quota: jest.Mocked<QuotaService>;
  titles: jest.Mocked<SessionTitleService>;
  locks: MemoryInFlightLock;
  idempotency: MemoryIdempotencyStore;
  registry: jest.Mocked<GenerationRegistry>;
  config: AppConfig;
  events: MemoryGenerationEventLog;
  /** A real retrier on the mocked history (stop it with onApplicationShutdown). */
  writes: ReplyWriteRetrier;
  /** A real checkpoint writer on the mocked history (stop it with onApplicationShutdown). */
  checkpoints: ReplyCheckpointWriter;
  presets: jest.Mocked<PresetsService>;
  files: jest.Mocked<FilesService>;
}

/** Fresh dependencies for one test; `env` overrides configuration (e.g. CHAT__MAX_MESSAGE_CHARS). */
export function newChatTurnDeps(env: Record<string, string> = {}): ChatTurnDeps {
  const history = mocked<HistoryService>({
    requireSession: jest.fn(),
    createSession: jest.fn((userId: string, title: string | null) =>
      Promise.resolve(sessionRecord({ userId, title })),
    ),
    turnBase: jest.fn().mockResolvedValue({ parentId: null, history: [] }),
    startExchange: jest.fn((sessionId: string, _message: string, model: string) =>
      Promise.resolve(
        messageRecord({ sessionId, role: 'assistant', content: '', status: 'pending', model }),
      ),
    ),
    startRegeneration: jest.fn((sessionId: string, questionId: string, model: string) =>
      Promise.resolve(
        messageRecord({
          sessionId,
          parentId: questionId,
          role: 'assistant',
          content: '',
          status: 'pending',
          model,
        }),
      ),
    ),
    continueAfterToolCalls: jest.fn((sessionId: string, waitingId: string, _calls, model: string) =>
      Promise.resolve(
        messageRecord({
          sessionId,
          parentId: waitingId,
          role: 'assistant',
          content: '',
          status: 'pending',
          model,
        }),
      ),
    ),
    finishReply: jest.fn().mockResolvedValue(undefined),
    checkpointReplies: jest.fn().mockResolvedValue(undefined),
    renameSession: jest.fn(),
  });
  const config = AppConfig.fromEnv({ SECRET_KEY: randomBytes(32).toString('hex'), ...env });
  return {
    history,
    providers: mocked<ProvidersService>({
      resolveModel: jest.fn((id?: string) => ({
        id: id ?? 'test/model',
        provider: 'test',
        model: 'model',
        contextWindow: 8_000,
        inputs: [],
      })),
      listModels: jest.fn(() => []),
      stream: jest.fn(() => providerStream([{ type: 'delta', text: 'ok' }])),
      complete: jest.fn(),
    }),
    quota: mocked<QuotaService>({
      assertWithinQuota: jest.fn().mockResolvedValue(undefined),
      recordUsage: jest.fn().mockResolvedValue(undefined),
    }),
    titles: mocked<SessionTitleService>({
      derive: jest.fn((message: string) => message.slice(0, 60)),
      titleUntitled: jest.fn().mockResolvedValue(undefined),
      generateInBackground: jest.fn(),
    }),
    locks: new MemoryInFlightLock(),
    idempotency: new MemoryIdempotencyStore(),
    registry: mocked<GenerationRegistry>({
      register: jest.fn(() => new AbortController()),
      unregister: jest.fn(),
      leave: jest.fn(),
      abort: jest.fn().mockResolvedValue(false),
    }),
    config,
    events: new MemoryGenerationEventLog(60),
    writes: new ReplyWriteRetrier(history),
    checkpoints: new ReplyCheckpointWriter(history, config),
    presets: mocked<PresetsService>({ settings: jest.fn() }),
    files: mocked<FilesService>({
      requireOwned: jest.fn().mockResolvedValue([]),
      load: jest.fn().mockResolvedValue(new Map()),
      recordUse: jest.fn().mockResolvedValue(undefined),
    }),
  };
}

/** A session of `alice` with no messages yet. */
export function sessionRecord(overrides: Partial<SessionRecord> = {}): SessionRecord {
  const now = new Date('2026-01-01T00:00:00Z');
  return {
    id: randomUUID(),
    userId: 'alice',
    title: 'A title',
    messageCount: 0,
    lastMessage: null,
    activeLeafId: null,
    settings: { ...NO_SETTINGS },
    createdAt: now,
    updatedAt: now,
    ...overrides,
  };
}

export function messageRecord(overrides: Partial<MessageRecord> = {}): MessageRecord {
  return {
    id: randomUUID(),
    sessionId: randomUUID(),
    seq: 1,
    parentId: null,
    role: 'user',
    content: 'Hello',
    status: 'complete',
    model: null,
    promptTokens: null,
    completionTokens: null,
    error: null,
    feedback: null,
    attachments: [],
    toolCalls: [],
    createdAt: new Date('2026-01-01T00:00:00Z'),
    ...overrides,
  };
}

/**
 * A provider stream as ProvidersService yields it: `start`, the given events, then `done` with
 * usage 10 + 5 — or, with `failure`, the events and then that error thrown.
 */
export async function* providerStream(
  events: GenerationEvent[],
  failure?: Error,
  model = 'test/model',
): AsyncGenerator<GenerationEvent> {
  yield { type: 'start', model };
  for (const event of events) yield event;
  if (failure) throw failure;
  yield {
    type: 'done',
    model,
    finishReason: events.some((event) => event.type === 'tool_call') ? 'tool_calls' : 'stop',
    usage: { promptTokens: 10, completionTokens: 5, totalTokens: 15 },
  };
}

/** Only the methods a test needs, typed as the whole class. */
function mocked<T>(methods: Partial<Record<keyof T, jest.Mock>>): jest.Mocked<T> {
  return methods as unknown as jest.Mocked<T>;
}
