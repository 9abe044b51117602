import { isEmail } from 'class-validator';
import { ConfigError, EnvReader } from './env-reader';
import { loadModelPrices, type ModelPriceTable } from './model-price-catalog';
import { TOOL_NAME } from '../src/providers/tool-name';

/** Placeholder values shipped in `.env.example` and docs; the app refuses to start with them. */
export const KNOWN_PLACEHOLDER_SECRETS = [
  'change-me-to-a-random-string-of-at-least-32-characters',
  'changeme',
  'secret',
  'your-secret-key',
];

export type DatabaseType = 'sqlite' | 'postgres';
export type HistoryStoreKind = 'sql' | 'mongo';

/** One provider family's credentials and endpoint. `keys` may hold any number of keys (rotated). */
export interface ProviderCredentials {
  keys: string[];
  baseUrl?: string;
}

export interface HttpConfig {
  /** Address the server binds to (`HOST`). */
  host: string;
  /** Port the server listens on (`PORT`). */
  port: number;
  /** Largest accepted request body (`BODY_LIMIT`, e.g. `1mb`). */
  bodyLimit: string;
  /**
   * Browser origins allowed cross-origin (`CORS_ORIGINS`, comma list or `*`); empty (default)
   * means same-origin only: no CORS headers, WebSockets only from the page's own origin.
   */
  corsOrigins: string[] | '*';
  /** Express `trust proxy` value from `TRUST_PROXY` (hop count or subnet list); false when unset. */
  trustProxy: number | string | false;
  /** Serve Swagger at `/docs` (`DOCS_ENABLED`). */
  docsEnabled: boolean;
  /** Serve the browser chat page at `/` (`WEB_CLIENT_ENABLED`). */
  webClientEnabled: boolean;
  /** Public URL used in e-mail links (`PUBLIC_BASE_URL`). */
  publicBaseUrl: string;
}

export interface DatabaseConfig {
  /** `DATABASE_URL` as given. */
  url: string;
  type: DatabaseType;
  /** SQLite file path or `:memory:` (sqlite only). */
  sqlitePath?: string;
  /** Run pending migrations at start-up (`DATABASE_RUN_MIGRATIONS`, default true). */
  runMigrations: boolean;
  /** Create the schema from entities instead of migrations; tests only (`DATABASE_SYNCHRONIZE`). */
  synchronize: boolean;
  /** Connection pool size for Postgres (`DATABASE_POOL_SIZE`). */
  poolSize: number;
}

export interface SecurityConfig {
  /** `SECRET_KEY`: the application secret (≥ 32 chars). */
  secretKey: string;
  /** Key that signs access tokens: `SECURITY__JWT_SECRET`, else `SECRET_KEY`. */
  jwtSecret: string;
  /** Always HS256 (`ALGORITHM`); anything else refuses to start. */
  algorithm: 'HS256';
  /** Access-token lifetime in seconds (`SECURITY__JWT_EXPIRES_IN` or `ACCESS_TOKEN_EXPIRE_MINUTES`). */
  accessTokenTtlSeconds: number;
  /** Refresh-token lifetime in days (`SECURITY__REFRESH_TOKEN_EXPIRE_DAYS`). */
  refreshTokenTtlDays: number;
  /** bcrypt cost factor (`SECURITY__BCRYPT_ROUNDS`). */
  bcryptRounds: number;
  /** JWT `iss` claim (`SECURITY__JWT_ISSUER`). */
  jwtIssuer: string;
  /** JWT `aud` claim (`SECURITY__JWT_AUDIENCE`). */
  jwtAudience: string;
  /** Lifetime of e-mail verification and password-reset tokens (`SECURITY__EMAIL_TOKEN_EXPIRE_MINUTES`). */
  emailTokenTtlMinutes: number;
}

export interface EmailConfig {
  /** True when an SMTP server is configured; otherwise mail flows log that they are disabled. */
  enabled: boolean;
  host?: string;
  port: number;
  /** Implicit TLS (`EMAIL__SMTP_SECURE`, default true on port 465). */
  secure: boolean;
  user?: string;
  password?: string;
  from: string;
}

export interface ResilienceConfig {
  /** Time allowed to open the upstream connection (`AI_SERVICES__CONNECT_TIMEOUT_MS`). */
  connectTimeoutMs: number;
  /** Time allowed until the first token or the whole non-streamed reply headers (`AI_SERVICES__FIRST_TOKEN_TIMEOUT_MS`). */
  firstTokenTimeoutMs: number;
  /** Longest silence between two streamed chunks (`AI_SERVICES__IDLE_TIMEOUT_MS`). */
  idleTimeoutMs: number;
  /** Whole-call deadline (`AI_SERVICES__TOTAL_TIMEOUT_MS`). */
  totalTimeoutMs: number;
  /** Retries after the first attempt (`AI_SERVICES__MAX_RETRIES`). */
  maxRetries: number;
  /** Base and cap for exponential backoff with full jitter (`AI_SERVICES__RETRY_BASE_MS`, `AI_SERVICES__RETRY_MAX_MS`). */
  retryBaseMs: number;
  retryMaxMs: number;
  /** Consecutive failures that open a circuit (`AI_SERVICES__BREAKER_THRESHOLD`). */
  breakerThreshold: number;
  /** How long an open circuit stays open (`AI_SERVICES__BREAKER_COOLDOWN_MS`). */
  breakerCooldownMs: number;
}

export interface AiServicesConfig {
  openRouter: ProviderCredentials;
  groq: ProviderCredentials;
  gemini: ProviderCredentials;
  openai: ProviderCredentials;
  /** Anthropic's Messages API (`AI_SERVICES__ANTHROPIC_API_KEY`, `_2`…, `AI_SERVICES__ANTHROPIC_BASE_URL`). */
  anthropic: ProviderCredentials & {
    /** `max_tokens` sent when a request sets none, capped by the model's own limit (`AI_SERVICES__ANTHROPIC_MAX_TOKENS`). */
    defaultMaxTokens: number;
  };
  /** Any OpenAI-compatible server (Ollama, vLLM, LM Studio): `AI_SERVICES__OPENAI_COMPATIBLE_BASE_URL`, `_API_KEY`, `_MODELS`. */
  openaiCompatible: ProviderCredentials & { models: string[] };
  /** Model used when a request names none (`AI_SERVICES__DEFAULT_MODEL`). */
  defaultModel?: string;
  /** Models tried in order when the primary fails before any token (`AI_SERVICES__FALLBACK_MODELS`). */
  fallbackModels: string[];
  /** Delay between words of the built-in local provider (`AI_SERVICES__LOCAL_DELAY_MS`). */
  localDelayMs: number;
  /** OpenRouter attribution headers (`AI_SERVICES__OPEN_ROUTER_SITE_URL`, `AI_SERVICES__OPEN_ROUTER_APP_NAME`). */
  openRouterSiteUrl: string;
  openRouterAppName: string;
  resilience: ResilienceConfig;
}

export interface RateLimitConfig {
  /** Requests per minute per client on every route (`RATE_LIMIT__DEFAULT_PER_MINUTE`). */
  defaultPerMinute: number;
  /** Requests per minute per IP on login, register, refresh and password reset (`RATE_LIMIT__AUTH_PER_MINUTE`). */
  authPerMinute: number;
  /** Failed logins per account per 15 minutes before 429 (`RATE_LIMIT__LOGIN_FAILURES_PER_ACCOUNT`). */
  loginFailuresPerAccount: number;
}

export interface QuotaConfig {
  /** Chat requests per user per minute on every transport (`QUOTA__REQUESTS_PER_MINUTE`). */
  requestsPerMinute: number;
  /** Tokens (prompt + completion) per user per UTC day (`QUOTA__TOKENS_PER_DAY`). */
  tokensPerDay: number;
  /**
   * Tokens per UTC day of a personal API key without a `tokens_per_day` of its own, on top of its
   * user's quota; 0 = such keys have only their user's (`QUOTA__API_KEY_TOKENS_PER_DAY`).
   */
  apiKeyTokensPerDay: number;
}

export interface ChatConfig {
  /** Longest accepted user message in Unicode code points, an emoji being one (`CHAT__MAX_MESSAGE_CHARS`). */
  maxMessageChars: number;
  /** Tokens reserved for the reply when trimming context (`CHAT__REPLY_TOKEN_BUDGET`). */
  replyTokenBudget: number;
  /** Interval of SSE comment heartbeats (`CHAT__HEARTBEAT_MS`). */
  heartbeatMs: number;
  /** How long a finished request's result is kept for `Idempotency-Key` replays (`CHAT__IDEMPOTENCY_TTL_SECONDS`). */
  idempotencyTtlSeconds: number;
  /** Ask the provider for a session title after the first exchange (`CHAT__GENERATE_TITLES`). */
  generateTitles: boolean;
  /** Time running streams get to finish on SIGTERM before they are aborted (`SHUTDOWN_GRACE_MS`). */
  shutdownGraceMs: number;
  /** How long a reply keeps generating after its last client left, waiting for a resume; 0 aborts at once (`CHAT__RESUME_WINDOW_MS`). */
  resumeWindowMs: number;
  /** How long a finished reply's events stay available to resume (`CHAT__RESUME_TTL_SECONDS`). */
  resumeTtlSeconds: number;
  /** Interval of the checkpoint batches: the text so far of every streaming reply of a process is written to the history store in one write this often (`CHAT__CHECKPOINT_MS`). */
  checkpointMs: number;
}

export interface UsageConfig {
  /** Prices per model: config/model-prices.json, replaced or extended by the file `MODEL_PRICES_FILE`. */
  prices: ModelPriceTable;
  /** Days raw usage rows are kept; reports read the daily roll-ups, which are kept for good (`USAGE__RETENTION_DAYS`). */
  retentionDays: number;
  /** Longest interval between two batched writes of the usage ledger (`USAGE__FLUSH_MS`). */
  flushMs: number;
  /** Buffered usage rows that trigger a write at once (`USAGE__FLUSH_ROWS`). */
  flushRows: number;
}

/** What a budget check does when its counter store (Redis) is unreachable. */
export type BudgetDegradedMode = 'open' | 'closed';

export interface BudgetConfig {
  /** Default spend limit per user per UTC day in USD; 0 = none (`BUDGET__USD_PER_DAY`). */
  usdPerDay: number;
  /** Default spend limit per user per UTC calendar month in USD; 0 = none (`BUDGET__USD_PER_MONTH`). */
  usdPerMonth: number;
  /** Redis down: `closed` refuses chats of users with a budget (503), `open` lets them through (`BUDGET__REDIS_DOWN`). */
  redisDown: BudgetDegradedMode;
}

/** Where uploaded files' bytes are kept (`FILES__STORAGE`). */
export type FileStorageKind = 'local' | 's3';

/** An S3 bucket, on AWS or an S3-compatible service, for uploaded files. */
export interface S3StorageConfig {
  /** Bucket the files go to; it must exist (`FILES__S3_BUCKET`). */
  bucket: string;
  /** Endpoint of an S3-compatible service, e.g. MinIO; unset for AWS S3 itself (`FILES__S3_ENDPOINT`). */
  endpoint?: string;
  /** Region used to sign requests (`FILES__S3_REGION`). */
  region: string;
  /** Static credentials; unset: the AWS SDK's own chain (AWS_* variables, instance role) (`FILES__S3_ACCESS_KEY_ID`). */
  accessKeyId?: string;
  /** Secret of the static credentials; kept out of logs and JSON (`FILES__S3_SECRET_ACCESS_KEY`). */
  secretAccessKey?: string;
  /** Bucket in the path, not the host name (`FILES__S3_FORCE_PATH_STYLE`; default true with an endpoint). */
  forcePathStyle: boolean;
}

export interface FilesConfig {
  /** `local` (a directory, default) or `s3` (a bucket, FILES__S3_*) (`FILES__STORAGE`). */
  storage: FileStorageKind;
  /** Directory the local file storage keeps uploaded files in (`FILES__DIR`). */
  dir: string;
  /** The bucket when FILES__STORAGE=s3. */
  s3?: S3StorageConfig;
  /** Largest accepted upload in bytes (`FILES__MAX_BYTES`); larger ones answer 413. */
  maxBytes: number;
  /** Bytes of files one user may keep in all (`FILES__USER_QUOTA_BYTES`); an upload beyond answers 413. */
  userQuotaBytes: number;
}

export interface ToolsConfig {
  /**
   * Names of the server-side tools offered on every /api chat turn (`TOOLS__SERVER_TOOLS`, comma
   * list; none by default). Each must be a registered ServerTool (checked at start-up).
   */
  serverTools: string[];
  /** Longest run of one server-side tool call in ms (`TOOLS__TIMEOUT_MS`); then it is an error result. */
  timeoutMs: number;
  /** Longest server-side tool result in characters (`TOOLS__MAX_RESULT_CHARS`); longer is an error result. */
  maxResultChars: number;
  /** Most model calls of one chat turn with server-side tools (`TOOLS__MAX_ROUNDS`); the last is offered no tools. */
  maxRounds: number;
}

export interface AdminConfig {
  /**
   * Accounts that are admins (`ADMIN_EMAILS`, comma list): made admins when they register and at
   * every start-up. Lower-cased; an admin can also grant the role through `/api/admin/users`.
   */
  emails: string[];
}

export interface MetricsConfig {
  /** Serve `/metrics` (`METRICS_ENABLED`). */
  enabled: boolean;
  /** When set, `/metrics` requires `Authorization: Bearer <token>` (`METRICS_TOKEN`). */
  token?: string;
}

/** The whole configuration, validated once at start-up. Feature code reads only this. */
export class AppConfig {
  nodeEnv: 'development' | 'production' | 'test';
  logLevel: string;
  /** `LOG_FORMAT`: `json` lines (default in production) or `pretty` for people (default otherwise). */
  logFormat: 'json' | 'pretty';
  http: HttpConfig;
  database: DatabaseConfig;
  historyStore: HistoryStoreKind;
  /** `MONGO_URI`: required when `HISTORY_STORE=mongo`. */
  mongoUri?: string;
  /** `REDIS_URL`: shared rate limits, quotas, locks and the Socket.IO adapter. */
  redisUrl?: string;
  security: SecurityConfig;
  email: EmailConfig;
  ai: AiServicesConfig;
  rateLimit: RateLimitConfig;
  quota: QuotaConfig;
  chat: ChatConfig;
  usage: UsageConfig;
  budget: BudgetConfig;
  files: FilesConfig;
  tools: ToolsConfig;
  metrics: MetricsConfig;
  admin: AdminConfig;

  /** Parses and validates an environment; throws ConfigError with a one-line reason. */
  static fromEnv(env: NodeJS.ProcessEnv): AppConfig {
    const r = new EnvReader(env);
    const c = new AppConfig();
    c.nodeEnv = r.oneOf('NODE_ENV', ['development', 'production', 'test'], 'development');
    c.logLevel = r.oneOf(
      'LOG_LEVEL',
      ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'],
      'info',
    );
    c.logFormat = r.oneOf(
      'LOG_FORMAT',
      ['json', 'pretty'],
      c.nodeEnv === 'production' ? 'json' : 'pretty',
    );

    const port = r.int('PORT', 8000, 0, 65535);
    c.http = {
      host: r.str('HOST', '0.0.0.0'),
      port,
      bodyLimit: r.match('BODY_LIMIT', /^\d+(b|kb|mb)$/i, '1mb', 'a size such as 1mb or 512kb'),
      corsOrigins: parseCorsOrigins(r.str('CORS_ORIGINS', '')),
      trustProxy: parseTrustProxy(r.optional('TRUST_PROXY')),
      docsEnabled: r.bool('DOCS_ENABLED', true),
      webClientEnabled: r.bool('WEB_CLIENT_ENABLED', true),
      publicBaseUrl: r.str('PUBLIC_BASE_URL', `http://localhost:${port}`).replace(/\/+$/, ''),
    };

    c.database = parseDatabase(r);
    c.historyStore = r.oneOf('HISTORY_STORE', ['sql', 'mongo'], 'sql');
    c.mongoUri = r.optional('MONGO_URI');
    if (c.historyStore === 'mongo' && !c.mongoUri) {
      throw new ConfigError('HISTORY_STORE=mongo needs MONGO_URI');
    }
    c.redisUrl = r.optional('REDIS_URL');

    c.security = parseSecurity(r);
    c.email = parseEmail(r);
    c.ai = parseAiServices(r);

    c.rateLimit = {
      defaultPerMinute: r.int('RATE_LIMIT__DEFAULT_PER_MINUTE', 600, 1),
      authPerMinute: r.int('RATE_LIMIT__AUTH_PER_MINUTE', 20, 1),
      loginFailuresPerAccount: r.int('RATE_LIMIT__LOGIN_FAILURES_PER_ACCOUNT', 10, 1),
    };
    c.quota = {
      requestsPerMinute: r.int('QUOTA__REQUESTS_PER_MINUTE', 60, 1),
      tokensPerDay: r.int('QUOTA__TOKENS_PER_DAY', 1_000_000, 1),
      apiKeyTokensPerDay: r.int('QUOTA__API_KEY_TOKENS_PER_DAY', 0, 0),
    };
    c.chat = {
      maxMessageChars: r.int('CHAT__MAX_MESSAGE_CHARS', 32_000, 1),
      replyTokenBudget: r.int('CHAT__REPLY_TOKEN_BUDGET', 1024, 1),
      heartbeatMs: r.int('CHAT__HEARTBEAT_MS', 15_000, 10),
      idempotencyTtlSeconds: r.int('CHAT__IDEMPOTENCY_TTL_SECONDS', 86_400, 1),
      generateTitles: r.bool('CHAT__GENERATE_TITLES', true),
      shutdownGraceMs: r.int('SHUTDOWN_GRACE_MS', 10_000, 0),
      resumeWindowMs: r.int('CHAT__RESUME_WINDOW_MS', 30_000, 0),
      resumeTtlSeconds: r.int('CHAT__RESUME_TTL_SECONDS', 300, 1),
      checkpointMs: r.int('CHAT__CHECKPOINT_MS', 1_000, 10),
    };
    c.usage = {
      prices: loadModelPrices(r.optional('MODEL_PRICES_FILE')),
      retentionDays: r.int('USAGE__RETENTION_DAYS', 90, 1, 3650),
      flushMs: r.int('USAGE__FLUSH_MS', 1_000, 10, 60_000),
      flushRows: r.int('USAGE__FLUSH_ROWS', 500, 1, 10_000),
    };
    c.budget = {
      usdPerDay: r.decimal('BUDGET__USD_PER_DAY', 0),
      usdPerMonth: r.decimal('BUDGET__USD_PER_MONTH', 0),
      redisDown: r.oneOf('BUDGET__REDIS_DOWN', ['open', 'closed'], 'closed'),
    };
    c.files = parseFiles(r);
    c.tools = {
      serverTools: parseToolNames(r.list('TOOLS__SERVER_TOOLS')),
      timeoutMs: r.int('TOOLS__TIMEOUT_MS', 5_000, 1, 300_000),
      maxResultChars: r.int('TOOLS__MAX_RESULT_CHARS', 16_000, 1, 1_000_000),
      maxRounds: r.int('TOOLS__MAX_ROUNDS', 5, 1, 20),
    };
    c.metrics = {
      enabled: r.bool('METRICS_ENABLED', true),
      token: r.optional('METRICS_TOKEN'),
    };
    c.admin = { emails: parseAdminEmails(r.list('ADMIN_EMAILS')) };
    return c;
  }
}

function parseFiles(r: EnvReader): FilesConfig {
  const storage = r.oneOf<FileStorageKind>('FILES__STORAGE', ['local', 's3'], 'local');
  return {
    storage,
    dir: r.str('FILES__DIR', './data/files'),
    s3: storage === 's3' ? parseS3Storage(r) : undefined,
    maxBytes: r.int('FILES__MAX_BYTES', 10 * 1024 * 1024, 1),
    userQuotaBytes: r.int('FILES__USER_QUOTA_BYTES', 200 * 1024 * 1024, 1),
  };
}

function parseS3Storage(r: EnvReader): S3StorageConfig {
  const bucket = r.optional('FILES__S3_BUCKET');
  if (!bucket) throw new ConfigError('FILES__STORAGE=s3 needs FILES__S3_BUCKET');
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) {
    throw new ConfigError(
      `FILES__S3_BUCKET must be an S3 bucket name: 3 to 63 lower-case letters, digits, dots and hyphens (got "${bucket}")`,
    );
  }
  const endpoint = r.url('FILES__S3_ENDPOINT');
  const accessKeyId = r.optional('FILES__S3_ACCESS_KEY_ID');
  const secretAccessKey = r.optional('FILES__S3_SECRET_ACCESS_KEY');
  if (Boolean(accessKeyId) !== Boolean(secretAccessKey)) {
    throw new ConfigError(
      'FILES__S3_ACCESS_KEY_ID and FILES__S3_SECRET_ACCESS_KEY go together: set both, or neither to use the AWS SDK credential chain',
    );
  }
  const config: S3StorageConfig = {
    bucket,
    endpoint,
    region: r.match(
      'FILES__S3_REGION',
      /^[a-z0-9-]{2,32}$/,
      'us-east-1',
      'a region such as eu-west-1',
    ),
    accessKeyId,
    forcePathStyle: r.bool('FILES__S3_FORCE_PATH_STYLE', endpoint !== undefined),
  };
  // Not enumerable: JSON.stringify and util.inspect of the configuration leave the secret out.
  Object.defineProperty(config, 'secretAccessKey', { value: secretAccessKey, enumerable: false });
  return config;
}

/** Tool names as every provider accepts them, de-duplicated; anything else stops start-up. */
function parseToolNames(entries: string[]): string[] {
  const invalid = entries.find((name) => !TOOL_NAME.test(name));
  if (invalid !== undefined) {
    throw new ConfigError(
      `TOOLS__SERVER_TOOLS entry "${invalid}" is not a tool name (letters, digits, _ and -, at most 64)`,
    );
  }
  return [...new Set(entries)];
}

/** Lower-cased, de-duplicated e-mail addresses; anything that is not one stops start-up. */
function parseAdminEmails(entries: string[]): string[] {
  const emails = entries.map((entry) => entry.toLowerCase());
  const invalid = emails.find((email) => email.length > 254 || !isEmail(email));
  if (invalid !== undefined) {
    throw new ConfigError(`ADMIN_EMAILS entry "${invalid}" is not an e-mail address`);
  }
  return [...new Set(emails)];
}

/** `*`, or origins as browsers send them in `Origin` (a trailing slash is dropped). */
function parseCorsOrigins(value: string): string[] | '*' {
  if (value.trim() === '*') return '*';
  return value
    .split(',')
    .map((entry) => entry.trim())
    .filter(Boolean)
    .map((entry) => {
      const url = URL.canParse(entry) ? new URL(entry) : undefined;
      if (!url || !['http:', 'https:'].includes(url.protocol) || url.href !== `${url.origin}/`) {
        throw new ConfigError(
          `CORS_ORIGINS entry "${entry}" is not an origin: give scheme://host[:port] like https://app.example.com, or * alone for any`,
        );
      }
      return url.origin;
    });
}

function parseTrustProxy(value: string | undefined): number | string | false {
  if (value === undefined || value === '' || value === 'false' || value === '0') return false;
  if (value === 'true') {
    throw new ConfigError(
      'TRUST_PROXY=true would trust a spoofable X-Forwarded-For; give a hop count (e.g. 1) or the proxy subnet',
    );
  }
  if (/^\d+$/.test(value)) return Number(value);
  return value;
}

function parseDatabase(r: EnvReader): DatabaseConfig {
  const url = r.str('DATABASE_URL', 'sqlite:///./chatbot.db');
  const common = {
    url,
    runMigrations: r.bool('DATABASE_RUN_MIGRATIONS', true),
    synchronize: r.bool('DATABASE_SYNCHRONIZE', false),
    poolSize: r.int('DATABASE_POOL_SIZE', 10, 1),
  };
  if (/^postgres(ql)?:\/\//i.test(url)) return { ...common, type: 'postgres' };
  const sqlite = /^sqlite:\/\/(.*)$/i.exec(url);
  if (sqlite) {
    // sqlite:///./chatbot.db → ./chatbot.db ; sqlite:////abs/path.db → /abs/path.db ; sqlite://:memory:
    const rest = sqlite[1];
    const sqlitePath =
      rest === ':memory:' || rest === '/:memory:' ? ':memory:' : rest.replace(/^\//, '');
    if (!sqlitePath) throw new ConfigError('DATABASE_URL sqlite:// needs a file path');
    return { ...common, type: 'sqlite', sqlitePath };
  }
  throw new ConfigError('DATABASE_URL must start with sqlite:// or postgres://');
}

function parseSecurity(r: EnvReader): SecurityConfig {
  const secretKey = requireStrongSecret('SECRET_KEY', r.optional('SECRET_KEY'));
  const jwtSecretRaw = r.optional('SECURITY__JWT_SECRET');
  const jwtSecret = jwtSecretRaw
    ? requireStrongSecret('SECURITY__JWT_SECRET', jwtSecretRaw)
    : secretKey;
  const algorithm = r.str('ALGORITHM', 'HS256');
  if (algorithm !== 'HS256') {
    throw new ConfigError(
      `ALGORITHM must be HS256 (got "${algorithm}"); other algorithms are not accepted`,
    );
  }
  const expiresIn = r.optional('SECURITY__JWT_EXPIRES_IN');
  const accessTokenTtlSeconds = expiresIn
    ? parseDurationSeconds('SECURITY__JWT_EXPIRES_IN', expiresIn)
    : r.int('ACCESS_TOKEN_EXPIRE_MINUTES', 30, 1) * 60;
  return {
    secretKey,
    jwtSecret,
    algorithm: 'HS256',
    accessTokenTtlSeconds,
    refreshTokenTtlDays: r.int('SECURITY__REFRESH_TOKEN_EXPIRE_DAYS', 30, 1),
    bcryptRounds: r.int('SECURITY__BCRYPT_ROUNDS', 12, 4, 15),
    jwtIssuer: r.str('SECURITY__JWT_ISSUER', 'nest-chatbot'),
    jwtAudience: r.str('SECURITY__JWT_AUDIENCE', 'nest-chatbot-api'),
    emailTokenTtlMinutes: r.int('SECURITY__EMAIL_TOKEN_EXPIRE_MINUTES', 60, 1),
  };
}

function requireStrongSecret(name: string, value: string | undefined): string {
  if (!value) {
    throw new ConfigError(
      `${name} is required: run "npm run setup" or set a random value of at least 32 characters`,
    );
  }
  if (value.length < 32) {
    throw new ConfigError(
      `${name} is too short (${value.length} characters); use at least 32 random characters`,
    );
  }
  if (KNOWN_PLACEHOLDER_SECRETS.includes(value) || /^(.)\1+$/.test(value)) {
    throw new ConfigError(
      `${name} is a known placeholder; generate a random one with "npm run setup"`,
    );
  }
  return value;
}

/** Accepts `3600`, `3600s`, `15m`, `2h`, `1d`. */
function parseDurationSeconds(name: string, value: string): number {
  const m = /^(\d+)\s*(s|m|h|d)?$/i.exec(value.trim());
  if (!m || Number(m[1]) <= 0) {
    throw new ConfigError(`${name} must be a duration such as 900, 15m, 2h or 1d (got "${value}")`);
  }
  const unit = { s: 1, m: 60, h: 3600, d: 86400 }[
    (m[2] ?? 's').toLowerCase() as 's' | 'm' | 'h' | 'd'
  ];
  return Number(m[1]) * unit;
}

function parseEmail(r: EnvReader): EmailConfig {
  const gmailFrom = r.optional('EMAIL__GMAIL_FROM_EMAIL');
  const gmailPassword = r.optional('EMAIL__GMAIL_APP_PASSWORD');
  const explicitHost = r.optional('EMAIL__SMTP_HOST');
  const host = explicitHost ?? (gmailFrom && gmailPassword ? 'smtp.gmail.com' : undefined);
  const port = r.int('EMAIL__SMTP_PORT', explicitHost ? 587 : 465, 1, 65535);
  return {
    enabled: Boolean(host),
    host,
    port,
    secure: r.bool('EMAIL__SMTP_SECURE', port === 465),
    user: r.optional('EMAIL__SMTP_USER') ?? gmailFrom,
    password: r.optional('EMAIL__SMTP_PASSWORD') ?? gmailPassword,
    from: r.optional('EMAIL__FROM') ?? gmailFrom ?? 'no-reply@localhost',
  };
}

function parseAiServices(r: EnvReader): AiServicesConfig {
  const creds = (prefix: string, baseUrlVar: string): ProviderCredentials => ({
    keys: r.numberedList(prefix),
    baseUrl: r.url(baseUrlVar),
  });
  const compatibleBaseUrl = r.url('AI_SERVICES__OPENAI_COMPATIBLE_BASE_URL');
  return {
    openRouter: creds('AI_SERVICES__OPEN_ROUTER_API_KEY', 'AI_SERVICES__OPEN_ROUTER_BASE_URL'),
    groq: creds('AI_SERVICES__GROQ_API_KEY', 'AI_SERVICES__GROQ_BASE_URL'),
    gemini: creds('AI_SERVICES__GEMINI_API_KEY', 'AI_SERVICES__GEMINI_BASE_URL'),
    openai: creds('AI_SERVICES__OPENAI_API_KEY', 'AI_SERVICES__OPENAI_BASE_URL'),
    anthropic: {
      ...creds('AI_SERVICES__ANTHROPIC_API_KEY', 'AI_SERVICES__ANTHROPIC_BASE_URL'),
      defaultMaxTokens: r.int('AI_SERVICES__ANTHROPIC_MAX_TOKENS', 4096, 1),
    },
    openaiCompatible: {
      keys: r.numberedList('AI_SERVICES__OPENAI_COMPATIBLE_API_KEY'),
      baseUrl: compatibleBaseUrl,
      models: r.list('AI_SERVICES__OPENAI_COMPATIBLE_MODELS'),
    },
    defaultModel: r.optional('AI_SERVICES__DEFAULT_MODEL'),
    fallbackModels: r.list('AI_SERVICES__FALLBACK_MODELS'),
    localDelayMs: r.int('AI_SERVICES__LOCAL_DELAY_MS', 20, 0),
    openRouterSiteUrl: r.str(
      'AI_SERVICES__OPEN_ROUTER_SITE_URL',
      'https://github.com/nest-chatbot',
    ),
    openRouterAppName: r.str('AI_SERVICES__OPEN_ROUTER_APP_NAME', 'nest-chatbot'),
    resilience: {
      connectTimeoutMs: r.int('AI_SERVICES__CONNECT_TIMEOUT_MS', 10_000, 1),
      firstTokenTimeoutMs: r.int('AI_SERVICES__FIRST_TOKEN_TIMEOUT_MS', 60_000, 1),
      idleTimeoutMs: r.int('AI_SERVICES__IDLE_TIMEOUT_MS', 30_000, 1),
      totalTimeoutMs: r.int('AI_SERVICES__TOTAL_TIMEOUT_MS', 300_000, 1),
      maxRetries: r.int('AI_SERVICES__MAX_RETRIES', 2, 0, 10),
      retryBaseMs: r.int('AI_SERVICES__RETRY_BASE_MS', 250, 0),
      retryMaxMs: r.int('AI_SERVICES__RETRY_MAX_MS', 8_000, 0),
      breakerThreshold: r.int('AI_SERVICES__BREAKER_THRESHOLD', 5, 1),
      breakerCooldownMs: r.int('AI_SERVICES__BREAKER_COOLDOWN_MS', 30_000, 1),
    },
  };
}
