import { randomBytes, randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { INestApplication, Type } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { AppConfig } from '@app/config';
import type { AuthUser } from '../../src/auth/auth-user';
import type { ChatEvent } from '../../src/chat/chat-events';
import type { ChatEventListener, ChatTurn, TurnOutcome } from '../../src/chat/chat-turn';
import { ChatService } from '../../src/chat/chat.service';
import { SocketAuthenticator, type SocketIdentity } from '../../src/chat/socket-authenticator';

/**
 * A chat turn that streams `start`, its deltas and `done`. A held turn stops after the deltas
 * and ends only when aborted (finish_reason `aborted`), like a long reply a client stops.
 */
export class ScriptedTurn implements ChatTurn {
  readonly sessionId = randomUUID();
  readonly messageId = randomUUID();
  readonly model = 'test/model';
  readonly replayed = false;
  /** Resolves when the transport aborted the turn. */
  readonly aborted: Promise<void>;
  private markAborted: () => void = () => undefined;

  constructor(
    private readonly deltas: string[] = ['Hel', 'lo'],
    private readonly held = false,
  ) {
    this.aborted = new Promise((resolve) => (this.markAborted = resolve));
  }

  async run(emit: ChatEventListener = () => undefined): Promise<TurnOutcome> {
    let seq = 0;
    const listener = (event: ChatEvent) => emit(event, ++seq);
    listener({
      type: 'start',
      session_id: this.sessionId,
      message_id: this.messageId,
      model: this.model,
    });
    for (const text of this.deltas) listener({ type: 'delta', text });
    if (this.held) await this.aborted;
    const done: Extract<ChatEvent, { type: 'done' }> = {
      type: 'done',
      message_id: this.messageId,
      usage: {
        prompt_tokens: 3,
        completion_tokens: this.deltas.length,
        tokens: 3 + this.deltas.length,
      },
      finish_reason: this.held ? 'aborted' : 'stop',
      model: this.model,
    };
    listener(done);
    const { type: _type, ...result } = done;
    return {
      ...result,
      session_id: this.sessionId,
      reply: this.deltas.join(''),
      created_at: new Date().toISOString(),
    };
  }

  /** The scripted turn ends as aborted as soon as its client leaves (no resume window). */
  leave(): void {
    this.markAborted();
  }
}

/** The ChatService methods the socket transports call, as mocks. */
export type SocketChat = jest.Mocked<Pick<ChatService, 'begin' | 'abort' | 'resume'>>;

export function newSocketChat(): SocketChat {
  return { begin: jest.fn(), abort: jest.fn(), resume: jest.fn() };
}

/** The identity a handshake resolves to: `user`, with a token valid for another hour. */
export function socketIdentity(user: Partial<AuthUser> = {}): SocketIdentity {
  return {
    user: { id: randomUUID(), email: 'alice@example.com', role: 'user', ...user },
    expiresAt: Math.floor(Date.now() / 1000) + 3600,
    revalidate: () => Promise.resolve(),
  };
}

/** A socket transport listening on a loopback port, with its collaborators mocked. */
export interface SocketTransportUnderTest {
  app: INestApplication;
  /** `http://127.0.0.1:<port>` */
  url: string;
  chat: SocketChat;
  /** The SocketAuthenticator method of this transport. */
  authenticate: jest.Mock<Promise<SocketIdentity>, unknown[]>;
}

/**
 * Starts an app that holds only `transport` (the gateway or the WS server), a mocked ChatService
 * and a mocked handshake check (`check`, the SocketAuthenticator method the transport calls).
 */
export async function startSocketTransport(
  transport: Type<unknown>,
  check: keyof SocketAuthenticator,
): Promise<SocketTransportUnderTest> {
  const chat = newSocketChat();
  const authenticate = jest.fn<Promise<SocketIdentity>, unknown[]>();
  const moduleRef = await Test.createTestingModule({
    providers: [
      transport,
      { provide: SocketAuthenticator, useValue: { [check]: authenticate } },
      { provide: ChatService, useValue: chat },
      {
        provide: AppConfig,
        useValue: AppConfig.fromEnv({ SECRET_KEY: randomBytes(32).toString('hex') }),
      },
    ],
  }).compile();
  const app = moduleRef.createNestApplication({ logger: false });
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address() as AddressInfo;
  return { app, url: `http://127.0.0.1:${port}`, chat, authenticate };
}
