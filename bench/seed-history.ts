/**
 * Fills a database with chat history for benchmarks: N users × M sessions × K messages, written
 * in large batches straight through the same entities / schemas the app reads.
 *
 *   npx ts-node -r tsconfig-paths/register bench/seed-history.ts --users 1 --sessions 10000 --messages 2
 *   npx ts-node -r tsconfig-paths/register bench/seed-history.ts --users 100 --sessions 100 --messages 10
 *
 * Where it writes comes from the app's own configuration (environment or .env): DATABASE_URL
 * for users (always) and for history, or HISTORY_STORE=mongo + MONGO_URI for history in Mongo.
 * Pending migrations run first. Users are `<prefix><n>@bench.local` with one shared password
 * (`--password`), so a benchmark can log in as any of them; existing bench users are reused
 * and get more sessions. The last line of output is a JSON summary for scripts.
 */
import 'dotenv/config';
import { randomBytes, randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import mongoose from 'mongoose';
import { DataSource, In } from 'typeorm';
import { AppConfig, buildDataSourceOptions } from '@app/config';
import { PasswordHasher } from '../src/auth/password-hasher.service';
import type { MessageRole } from '../src/history/history-store.interface';
import { ChatMessage } from '../src/history/entities/chat-message.entity';
import { ChatSession } from '../src/history/entities/chat-session.entity';
import { messagePreview } from '../src/history/message-preview';
import {
  MongoChatMessage,
  MongoChatMessageSchema,
} from '../src/history/schemas/mongo-chat-message.schema';
import {
  MongoChatSession,
  MongoChatSessionSchema,
} from '../src/history/schemas/mongo-chat-session.schema';
import { User } from '../src/users/entities/user.entity';

interface SeedOptions {
  users: number;
  sessions: number;
  messages: number;
  password: string;
  emailPrefix: string;
  batch: number;
}

/** Rows of one batch, built in memory and handed to the writer. */
interface Batch {
  sessions: ChatSession[];
  messages: ChatMessage[];
}

interface HistoryWriter {
  write(batch: Batch): Promise<void>;
  close(): Promise<void>;
}

const TOPICS = [
  'invoice',
  'travel',
  'recipe',
  'typescript',
  'postgres',
  'weather',
  'football',
  'poetry',
  'budget',
  'kubernetes',
];
const WORDS =
  'the a of to and in is it you that for on with as this be at by from or have not are but can what all were when we there use an which how about out up more some time very so just like know into also'.split(
    ' ',
  );

function parseOptions(): SeedOptions {
  const { values } = parseArgs({
    options: {
      users: { type: 'string', default: '1' },
      sessions: { type: 'string', default: '10' },
      messages: { type: 'string', default: '4' },
      password: { type: 'string', default: 'bench-password-123' },
      'email-prefix': { type: 'string', default: 'bench-user-' },
      batch: { type: 'string', default: '2000' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(
      'Usage: bench/seed-history.ts [--users N] [--sessions M per user] [--messages K per session]\n' +
        '       [--password P] [--email-prefix bench-user-] [--batch 2000 messages per write]',
    );
    process.exit(0);
  }
  const count = (name: string, value: string, min: number) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer ≥ ${min}`);
    return n;
  };
  return {
    users: count('users', values.users, 1),
    sessions: count('sessions', values.sessions, 0),
    messages: count('messages', values.messages, 0),
    password: values.password,
    emailPrefix: values['email-prefix'],
    batch: count('batch', values.batch, 1),
  };
}

/** Plausible message text: some words, a topic (for `q` searches) and the turn number. */
function messageText(role: MessageRole, topic: string, turn: number): string {
  const words = Array.from(
    { length: 12 + ((turn * 7) % 40) },
    (_, i) => WORDS[(turn * 13 + i * 7) % WORDS.length],
  );
  const lead = role === 'user' ? `Question ${turn} about ${topic}:` : `Answer ${turn} on ${topic}:`;
  return `${lead} ${words.join(' ')}.`;
}

/** Makes sure the bench users exist (same password for all) and returns their ids in order. */
async function ensureUsers(
  dataSource: DataSource,
  config: AppConfig,
  options: SeedOptions,
): Promise<string[]> {
  const emails = Array.from(
    { length: options.users },
    (_, i) => `${options.emailPrefix}${i + 1}@bench.local`,
  );
  const repo = dataSource.getRepository(User);
  const existing = new Map<string, string>();
  for (let i = 0; i < emails.length; i += 500) {
    const found = await repo.find({
      where: { email: In(emails.slice(i, i + 500)) },
      select: { id: true, email: true },
    });
    for (const user of found) existing.set(user.email, user.id);
  }
  const missing = emails.filter((email) => !existing.has(email));
  if (missing.length) {
    const passwordHash = await new PasswordHasher(config).hash(options.password);
    for (let i = 0; i < missing.length; i += 500) {
      const rows = missing.slice(i, i + 500).map((email) => {
        const id = randomUUID();
        existing.set(email, id);
        return { id, email, passwordHash, isActive: true, emailVerified: true, isAdmin: false };
      });
      await repo.insert(rows);
    }
  }
  console.log(
    `users: ${emails.length} (${missing.length} created, password "${options.password}")`,
  );
  return emails.map((email) => existing.get(email)!);
}

function sqlWriter(dataSource: DataSource): HistoryWriter {
  // 14 columns per message: 500 rows stay under SQLite's and Postgres' bound-parameter limits.
  const CHUNK = 500;
  return {
    write: (batch) =>
      dataSource.transaction(async (em) => {
        for (let i = 0; i < batch.sessions.length; i += CHUNK) {
          await em.insert(ChatSession, batch.sessions.slice(i, i + CHUNK));
        }
        for (let i = 0; i < batch.messages.length; i += CHUNK) {
          await em.insert(ChatMessage, batch.messages.slice(i, i + CHUNK));
        }
      }),
    close: async () => undefined,
  };
}

async function mongoWriter(uri: string): Promise<HistoryWriter> {
  const connection = await mongoose
    .createConnection(uri, { serverSelectionTimeoutMS: 5_000 })
    .asPromise();
  const sessions = connection.model(MongoChatSession.name, MongoChatSessionSchema);
  const messages = connection.model(MongoChatMessage.name, MongoChatMessageSchema);
  await Promise.all([sessions.init(), messages.init()]);
  return {
    write: async (batch) => {
      const userOf = new Map(batch.sessions.map((s) => [s.id, s.userId]));
      await sessions.collection.insertMany(
        batch.sessions.map((s) => ({
          _id: s.id as never,
          userId: s.userId,
          title: s.title,
          messageCount: s.messageCount,
          lastMessage: s.lastMessage,
          activeLeafId: s.activeLeafId,
          createdAt: s.createdAt,
          updatedAt: s.updatedAt,
        })),
        { ordered: false },
      );
      if (batch.messages.length) {
        await messages.collection.insertMany(
          batch.messages.map((m) => ({
            _id: m.id as never,
            sessionId: m.sessionId,
            userId: userOf.get(m.sessionId)!,
            seq: m.seq,
            parentId: m.parentId,
            role: m.role,
            content: m.content,
            status: m.status,
            model: m.model,
            promptTokens: m.promptTokens,
            completionTokens: m.completionTokens,
            error: m.error,
            createdAt: m.createdAt,
          })),
          { ordered: false },
        );
      }
    },
    close: () => connection.close(),
  };
}

/** One session with its K messages; timestamps end at `endsAt`, one second per message. */
function buildSession(userId: string, index: number, messages: number, endsAt: number): Batch {
  const topic = TOPICS[index % TOPICS.length];
  const sessionId = randomUUID();
  const start = endsAt - messages * 1_000;
  const rows: ChatMessage[] = [];
  for (let seq = 1; seq <= messages; seq++) {
    const role: MessageRole = seq % 2 ? 'user' : 'assistant';
    const content = messageText(role, topic, seq);
    rows.push({
      id: randomUUID(),
      sessionId,
      seq,
      parentId: rows.length ? rows[rows.length - 1].id : null,
      role,
      content,
      status: 'complete',
      model: role === 'assistant' ? 'local/echo' : null,
      promptTokens: role === 'assistant' ? 20 + seq * 10 : null,
      completionTokens: role === 'assistant' ? content.length >> 2 : null,
      error: null,
      feedbackRating: null,
      feedbackComment: null,
      attachments: null,
      toolCalls: null,
      createdAt: new Date(start + seq * 1_000),
    });
  }
  const session: ChatSession = {
    id: sessionId,
    userId,
    title: `${topic[0].toUpperCase()}${topic.slice(1)} chat #${index + 1}`,
    messageCount: messages,
    lastMessage: rows.length ? messagePreview(rows[rows.length - 1].content) : null,
    activeLeafId: rows.length ? rows[rows.length - 1].id : null,
    systemPrompt: null,
    model: null,
    temperature: null,
    maxTokens: null,
    createdAt: new Date(start),
    updatedAt: new Date(messages ? start + messages * 1_000 : start),
  };
  return { sessions: [session], messages: rows };
}

async function main(): Promise<void> {
  const options = parseOptions();
  // The secret is irrelevant to seeding; a throwaway one lets the script run without a .env.
  const config = AppConfig.fromEnv({
    SECRET_KEY: randomBytes(32).toString('hex'),
    ...process.env,
  });
  const dataSource = new DataSource({
    ...buildDataSourceOptions(config.database),
    migrationsRun: false,
  });
  await dataSource.initialize();
  const ran = await dataSource.runMigrations({ transaction: 'each' });
  if (ran.length) console.log(`migrations: ran ${ran.map((m) => m.name).join(', ')}`);

  const target =
    config.historyStore === 'mongo'
      ? `mongo (${redact(config.mongoUri!)})`
      : `${config.database.type} (${redact(config.database.url)})`;
  console.log(
    `seeding ${options.users} users × ${options.sessions} sessions × ${options.messages} messages into ${target}`,
  );

  const userIds = await ensureUsers(dataSource, config, options);
  const writer =
    config.historyStore === 'mongo' ? await mongoWriter(config.mongoUri!) : sqlWriter(dataSource);

  const totalSessions = options.users * options.sessions;
  const totalMessages = totalSessions * options.messages;
  const started = Date.now();
  // Newest session "now", older ones one minute apart, so list order is realistic and stable.
  let clock = Date.now() - totalSessions * 60_000;
  let pending: Batch = { sessions: [], messages: [] };
  let doneSessions = 0;
  let doneMessages = 0;
  let lastReport = 0;

  const flush = async () => {
    if (!pending.sessions.length) return;
    await writer.write(pending);
    doneSessions += pending.sessions.length;
    doneMessages += pending.messages.length;
    pending = { sessions: [], messages: [] };
    const now = Date.now();
    if (now - lastReport > 1_000 || doneSessions === totalSessions) {
      lastReport = now;
      const seconds = (now - started) / 1_000;
      const rate = Math.round((doneSessions + doneMessages) / Math.max(seconds, 0.001));
      const pct = Math.round((100 * doneSessions) / totalSessions);
      console.log(
        `  ${pct}%  sessions ${doneSessions}/${totalSessions}  messages ${doneMessages}/${totalMessages}  ${rate} rows/s`,
      );
    }
  };

  // Interleave users so every user's sessions spread over the whole time range.
  for (let s = 0; s < options.sessions; s++) {
    for (const userId of userIds) {
      clock += 60_000;
      const built = buildSession(userId, s, options.messages, clock);
      pending.sessions.push(...built.sessions);
      pending.messages.push(...built.messages);
      if (pending.messages.length >= options.batch || pending.sessions.length >= options.batch) {
        await flush();
      }
    }
  }
  await flush();
  await writer.close();
  await dataSource.destroy();

  const seconds = (Date.now() - started) / 1_000;
  console.log(
    `done: ${doneSessions} sessions, ${doneMessages} messages in ${seconds.toFixed(1)} s`,
  );
  console.log(
    JSON.stringify({
      store: config.historyStore,
      users: options.users,
      sessions: doneSessions,
      messages: doneMessages,
      seconds: Number(seconds.toFixed(2)),
      emailPrefix: options.emailPrefix,
      emailDomain: 'bench.local',
      password: options.password,
    }),
  );
}

/** A connection string without its password, for logs. */
function redact(url: string): string {
  return url.replace(/\/\/([^:/@]+):[^@]+@/, '//$1:***@');
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
