/** How long and how hard each benchmark runs. */
export interface Profile {
  name: 'smoke' | 'quick' | 'full';
  /** Length of one measured saturation run, and of its warm-up. */
  seconds: number;
  warmupSeconds: number;
  /** Length of one fixed-rate (open-loop) point. */
  rateSeconds: number;
  /** Offered loads for the chat overhead, req/s. */
  chatRates: number[];
  /** autocannon connections for saturation runs. */
  connections: number;
  /** Databases for the chat benchmark. */
  chatDatabases: ('sqlite' | 'postgres')[];
  /** Databases for the history benchmark. */
  historyDatabases: ('sqlite' | 'postgres')[];
  /** Chat turns per session before a new one starts (context grows up to 2× this). */
  turnsPerSession: number;
  history: {
    /** Dataset A: 1 user × this many sessions (2 messages each). */
    sessionsOneUser: number;
    /** Dataset B: this many users × sessions × messages. */
    users: number;
    sessionsPerUser: number;
    messagesPerSession: number;
    /** Dataset C: one session with this many messages (deep message pages). */
    longSessionMessages: number;
    /** Offered load of each latency point, req/s. */
    rate: number;
  };
  /** Concurrent logins (a few more than libuv's 4 hashing threads) and the storm's length. */
  login: { connections: number; seconds: number };
  /** One entry per concurrency level (each with its own simulator pace, see StreamLevel). */
  streaming: StreamLevel[];
  /** Idle Socket.IO connections to open. */
  idleSockets: number;
}

export const PROFILES: Record<Profile['name'], Profile> = {
  smoke: {
    name: 'smoke',
    seconds: 1,
    warmupSeconds: 0.25,
    rateSeconds: 1,
    chatRates: [50],
    connections: 8,
    chatDatabases: ['sqlite'],
    historyDatabases: ['sqlite'],
    turnsPerSession: 5,
    history: {
      sessionsOneUser: 200,
      users: 5,
      sessionsPerUser: 4,
      messagesPerSession: 20,
      longSessionMessages: 200,
      rate: 50,
    },
    login: { connections: 2, seconds: 2 },
    streaming: [{ concurrency: 10, tokens: 10, chunkDelayMs: 20, rampSeconds: 0.2, seconds: 1 }],
    idleSockets: 200,
  },
  quick: {
    name: 'quick',
    seconds: 5,
    warmupSeconds: 1,
    rateSeconds: 3,
    chatRates: [200, 500],
    connections: 32,
    chatDatabases: ['sqlite', 'postgres'],
    historyDatabases: ['sqlite'],
    turnsPerSession: 5,
    history: {
      sessionsOneUser: 10_000,
      users: 100,
      sessionsPerUser: 10,
      messagesPerSession: 100,
      longSessionMessages: 10_000,
      rate: 100,
    },
    login: { connections: 8, seconds: 6 },
    streaming: [
      { concurrency: 10, tokens: 30, chunkDelayMs: 50, rampSeconds: 1.5, seconds: 2.5 },
      { concurrency: 100, tokens: 30, chunkDelayMs: 50, rampSeconds: 1.5, seconds: 2.5 },
      // 1,000 replies of 6 s each, started over 4 s: all 1,000 are open at the same time.
      { concurrency: 1000, tokens: 15, chunkDelayMs: 400, rampSeconds: 4, repliesPerClient: 1 },
    ],
    idleSockets: 10_000,
  },
  full: {
    name: 'full',
    seconds: 15,
    warmupSeconds: 5,
    rateSeconds: 10,
    chatRates: [200, 500, 1000],
    connections: 32,
    chatDatabases: ['sqlite', 'postgres'],
    historyDatabases: ['sqlite', 'postgres'],
    turnsPerSession: 5,
    history: {
      sessionsOneUser: 10_000,
      users: 100,
      sessionsPerUser: 10,
      messagesPerSession: 100,
      longSessionMessages: 10_000,
      rate: 200,
    },
    login: { connections: 8, seconds: 20 },
    streaming: [
      { concurrency: 10, tokens: 60, chunkDelayMs: 50, rampSeconds: 3, seconds: 12 },
      { concurrency: 100, tokens: 60, chunkDelayMs: 50, rampSeconds: 3, seconds: 12 },
      { concurrency: 1000, tokens: 40, chunkDelayMs: 400, rampSeconds: 10, repliesPerClient: 2 },
    ],
    idleSockets: 12_000,
  },
};

/**
 * N clients streaming at once. Each reply is `tokens` words `chunkDelayMs` apart at the simulator;
 * clients start spread over `rampSeconds`. With `repliesPerClient` each client runs that many
 * replies and all are counted (every client's stream overlaps the others'); without it clients
 * run replies back to back and those started in the `seconds` after the ramp are counted.
 */
export interface StreamLevel {
  concurrency: number;
  tokens: number;
  chunkDelayMs: number;
  rampSeconds: number;
  seconds?: number;
  repliesPerClient?: number;
}

/** Shared by every scenario. */
export interface BenchContext {
  profile: Profile;
  /** The built app's entry point (dist/src/main.js). */
  appEntry: string;
  /** bcrypt cost the login benchmark uses (the configured SECURITY__BCRYPT_ROUNDS). */
  bcryptRounds: number;
  /** Extra node flags for the app process (e.g. `--cpu-prof --cpu-prof-dir …`). */
  appNodeArgs: string[];
  log(message: string): void;
}
