import { inspect } from 'node:util';
import { AppConfig } from './app-config';
import { ConfigError } from './env-reader';

const SECRET = 'k3Jq9vX2mW8pL5tR7yB4nC6dF1gH0sZa';

const load = (env: Record<string, string>) => AppConfig.fromEnv({ SECRET_KEY: SECRET, ...env });

function expectRefusal(env: Record<string, string | undefined>, message: RegExp): void {
  let error: unknown;
  try {
    AppConfig.fromEnv(env);
  } catch (caught) {
    error = caught;
  }
  expect(error).toBeInstanceOf(ConfigError);
  expect((error as Error).message).toMatch(message);
}

describe(AppConfig.name, () => {
  describe('SECRET_KEY', () => {
    it('is required', () => {
      expectRefusal({}, /^SECRET_KEY is required/);
      expectRefusal({ SECRET_KEY: '   ' }, /^SECRET_KEY is required/);
    });

    it('must be at least 32 characters', () => {
      expectRefusal(
        { SECRET_KEY: 'x'.repeat(10) + 'short' },
        /^SECRET_KEY is too short \(15 characters\)/,
      );
      expect(load({ SECRET_KEY: SECRET }).security.secretKey).toBe(SECRET);
    });

    it('refuses the shipped placeholder and one-character repeats', () => {
      expectRefusal(
        { SECRET_KEY: 'change-me-to-a-random-string-of-at-least-32-characters' },
        /known placeholder/,
      );
      expectRefusal({ SECRET_KEY: 'a'.repeat(40) }, /known placeholder/);
    });

    it('signs JWTs unless SECURITY__JWT_SECRET is given, which is checked the same way', () => {
      expect(load({}).security.jwtSecret).toBe(SECRET);
      const jwtSecret = 'Zx8Cv7Bn6Mq5Wr4Et3Yu2Io1Pa9Sd0Fg';
      expect(load({ SECURITY__JWT_SECRET: jwtSecret }).security.jwtSecret).toBe(jwtSecret);
      expectRefusal(
        { SECRET_KEY: SECRET, SECURITY__JWT_SECRET: 'short' },
        /^SECURITY__JWT_SECRET is too short/,
      );
    });
  });

  it('accepts only HS256 as ALGORITHM', () => {
    expect(load({}).security.algorithm).toBe('HS256');
    expect(load({ ALGORITHM: 'HS256' }).security.algorithm).toBe('HS256');
    for (const algorithm of ['none', 'HS512', 'RS256', 'hs256']) {
      expectRefusal({ SECRET_KEY: SECRET, ALGORITHM: algorithm }, /^ALGORITHM must be HS256/);
    }
  });

  describe('CORS_ORIGINS', () => {
    it('is same-origin only (an empty list) by default', () => {
      expect(load({}).http.corsOrigins).toEqual([]);
      expect(load({ CORS_ORIGINS: ' ' }).http.corsOrigins).toEqual([]);
    });

    it('takes a comma list of origins, as browsers send them, or * alone', () => {
      expect(
        load({ CORS_ORIGINS: 'https://a.example, http://localhost:3000/' }).http.corsOrigins,
      ).toEqual(['https://a.example', 'http://localhost:3000']);
      expect(load({ CORS_ORIGINS: '*' }).http.corsOrigins).toBe('*');
    });

    it('refuses entries that are not origins', () => {
      for (const entry of [
        'a.example',
        'https://a.example/app',
        'ftp://a.example',
        '*,https://a.example',
      ]) {
        expectRefusal(
          { SECRET_KEY: SECRET, CORS_ORIGINS: entry },
          /^CORS_ORIGINS entry ".*" is not an origin/,
        );
      }
    });
  });

  describe('TRUST_PROXY', () => {
    it('refuses "true" (it would trust a spoofable X-Forwarded-For)', () => {
      expectRefusal(
        { SECRET_KEY: SECRET, TRUST_PROXY: 'true' },
        /^TRUST_PROXY=true would trust a spoofable/,
      );
    });

    it('is off by default and takes a hop count or a subnet', () => {
      expect(load({}).http.trustProxy).toBe(false);
      expect(load({ TRUST_PROXY: 'false' }).http.trustProxy).toBe(false);
      expect(load({ TRUST_PROXY: '2' }).http.trustProxy).toBe(2);
      expect(load({ TRUST_PROXY: '10.0.0.0/8' }).http.trustProxy).toBe('10.0.0.0/8');
    });
  });

  describe('access-token lifetime', () => {
    it('defaults to 30 minutes and follows ACCESS_TOKEN_EXPIRE_MINUTES', () => {
      expect(load({}).security.accessTokenTtlSeconds).toBe(1800);
      expect(load({ ACCESS_TOKEN_EXPIRE_MINUTES: '5' }).security.accessTokenTtlSeconds).toBe(300);
    });

    it('prefers SECURITY__JWT_EXPIRES_IN with units', () => {
      const ttl = (value: string) =>
        load({ ACCESS_TOKEN_EXPIRE_MINUTES: '5', SECURITY__JWT_EXPIRES_IN: value }).security
          .accessTokenTtlSeconds;
      expect(ttl('900')).toBe(900);
      expect(ttl('15m')).toBe(900);
      expect(ttl('2h')).toBe(7200);
      expect(ttl('1d')).toBe(86400);
      expectRefusal(
        { SECRET_KEY: SECRET, SECURITY__JWT_EXPIRES_IN: 'soon' },
        /^SECURITY__JWT_EXPIRES_IN must be a duration/,
      );
    });
  });

  it('bounds SECURITY__BCRYPT_ROUNDS to 4..15', () => {
    expect(load({}).security.bcryptRounds).toBe(12);
    expect(load({ SECURITY__BCRYPT_ROUNDS: '4' }).security.bcryptRounds).toBe(4);
    expectRefusal({ SECRET_KEY: SECRET, SECURITY__BCRYPT_ROUNDS: '3' }, /between 4 and 15/);
    expectRefusal({ SECRET_KEY: SECRET, SECURITY__BCRYPT_ROUNDS: 'twelve' }, /whole number/);
  });

  it('offers no server-side tools by default; TOOLS__* names and limits are checked', () => {
    expect(load({}).tools).toEqual({
      serverTools: [],
      timeoutMs: 5000,
      maxResultChars: 16000,
      maxRounds: 5,
    });
    expect(
      load({ TOOLS__SERVER_TOOLS: 'calculator, calculator,my_tool', TOOLS__MAX_ROUNDS: '2' }).tools,
    ).toMatchObject({ serverTools: ['calculator', 'my_tool'], maxRounds: 2 });
    expectRefusal(
      { SECRET_KEY: SECRET, TOOLS__SERVER_TOOLS: 'calculator,rm -rf' },
      /^TOOLS__SERVER_TOOLS entry "rm -rf" is not a tool name/,
    );
    expectRefusal({ SECRET_KEY: SECRET, TOOLS__TIMEOUT_MS: '0' }, /TOOLS__TIMEOUT_MS/);
    expectRefusal({ SECRET_KEY: SECRET, TOOLS__MAX_ROUNDS: '21' }, /TOOLS__MAX_ROUNDS/);
  });

  describe('AI provider keys', () => {
    it('collects numbered OpenRouter keys in numeric order, de-duplicated, blanks skipped', () => {
      const config = load({
        AI_SERVICES__OPEN_ROUTER_API_KEY_10: 'key-ten',
        AI_SERVICES__OPEN_ROUTER_API_KEY_2: 'key-two',
        AI_SERVICES__OPEN_ROUTER_API_KEY_1: 'key-one',
        AI_SERVICES__OPEN_ROUTER_API_KEY_3: '  ',
        AI_SERVICES__OPEN_ROUTER_API_KEY_4: 'key-one',
      });
      expect(config.ai.openRouter.keys).toEqual(['key-one', 'key-two', 'key-ten']);
    });

    it('puts an unnumbered key first and accepts base URL overrides', () => {
      const config = load({
        AI_SERVICES__OPEN_ROUTER_API_KEY: 'plain',
        AI_SERVICES__OPEN_ROUTER_API_KEY_1: 'first',
        AI_SERVICES__OPEN_ROUTER_BASE_URL: 'http://127.0.0.1:9999/v1/',
        AI_SERVICES__GROQ_API_KEY: 'groq-key',
      });
      expect(config.ai.openRouter).toEqual({
        keys: ['plain', 'first'],
        baseUrl: 'http://127.0.0.1:9999/v1',
      });
      expect(config.ai.groq.keys).toEqual(['groq-key']);
      expect(config.ai.gemini.keys).toEqual([]);
    });

    it('reads Anthropic keys like the others (unnumbered first, then _2, _3…), its base URL and default max_tokens', () => {
      const config = load({
        AI_SERVICES__ANTHROPIC_API_KEY: 'sk-ant-one',
        AI_SERVICES__ANTHROPIC_API_KEY_3: 'sk-ant-three',
        AI_SERVICES__ANTHROPIC_API_KEY_2: 'sk-ant-two',
        AI_SERVICES__ANTHROPIC_BASE_URL: 'http://127.0.0.1:9999/',
      });
      expect(config.ai.anthropic).toEqual({
        keys: ['sk-ant-one', 'sk-ant-two', 'sk-ant-three'],
        baseUrl: 'http://127.0.0.1:9999',
        defaultMaxTokens: 4096,
      });
      expect(
        load({ AI_SERVICES__ANTHROPIC_MAX_TOKENS: '1000' }).ai.anthropic.defaultMaxTokens,
      ).toBe(1000);
      expectRefusal(
        { SECRET_KEY: SECRET, AI_SERVICES__ANTHROPIC_MAX_TOKENS: '0' },
        /AI_SERVICES__ANTHROPIC_MAX_TOKENS/,
      );
    });

    it('refuses a base URL that is not http(s)', () => {
      expectRefusal(
        { SECRET_KEY: SECRET, AI_SERVICES__GROQ_BASE_URL: 'ftp://example.com' },
        /^AI_SERVICES__GROQ_BASE_URL must be an http\(s\) URL/,
      );
    });
  });

  describe('e-mail', () => {
    it('is disabled without an SMTP host or Gmail settings', () => {
      expect(load({}).email.enabled).toBe(false);
    });

    it('uses Gmail over implicit TLS when only the Gmail settings are given', () => {
      expect(
        load({ EMAIL__GMAIL_FROM_EMAIL: 'bot@gmail.com', EMAIL__GMAIL_APP_PASSWORD: 'app-pass' })
          .email,
      ).toEqual({
        enabled: true,
        host: 'smtp.gmail.com',
        port: 465,
        secure: true,
        user: 'bot@gmail.com',
        password: 'app-pass',
        from: 'bot@gmail.com',
      });
    });

    it('takes any SMTP server', () => {
      expect(
        load({
          EMAIL__SMTP_HOST: '127.0.0.1',
          EMAIL__SMTP_PORT: '2525',
          EMAIL__SMTP_SECURE: 'false',
        }).email,
      ).toMatchObject({ enabled: true, host: '127.0.0.1', port: 2525, secure: false });
    });
  });

  it('parses DATABASE_URL for SQLite and Postgres and refuses others', () => {
    expect(load({}).database).toMatchObject({ type: 'sqlite', sqlitePath: './chatbot.db' });
    expect(load({ DATABASE_URL: 'sqlite:////tmp/x.db' }).database.sqlitePath).toBe('/tmp/x.db');
    expect(load({ DATABASE_URL: 'postgres://u:p@localhost:5432/db' }).database.type).toBe(
      'postgres',
    );
    expectRefusal(
      { SECRET_KEY: SECRET, DATABASE_URL: 'mysql://x' },
      /^DATABASE_URL must start with/,
    );
  });

  it('reads the rate limits with sane defaults', () => {
    expect(load({}).rateLimit).toEqual({
      defaultPerMinute: 600,
      authPerMinute: 20,
      loginFailuresPerAccount: 10,
    });
    expect(
      load({
        RATE_LIMIT__DEFAULT_PER_MINUTE: '100',
        RATE_LIMIT__AUTH_PER_MINUTE: '5',
        RATE_LIMIT__LOGIN_FAILURES_PER_ACCOUNT: '3',
      }).rateLimit,
    ).toEqual({ defaultPerMinute: 100, authPerMinute: 5, loginFailuresPerAccount: 3 });
    expectRefusal({ SECRET_KEY: SECRET, RATE_LIMIT__AUTH_PER_MINUTE: '0' }, /between 1 and/);
  });

  it('requires MONGO_URI with HISTORY_STORE=mongo', () => {
    expectRefusal(
      { SECRET_KEY: SECRET, HISTORY_STORE: 'mongo' },
      /^HISTORY_STORE=mongo needs MONGO_URI/,
    );
  });

  describe('file storage', () => {
    const S3 = { FILES__STORAGE: 's3', FILES__S3_BUCKET: 'chat-files' };

    it('is the local directory by default, with no S3 settings read', () => {
      const files = load({ FILES__S3_BUCKET: 'Not A Bucket' }).files;
      expect(files).toMatchObject({ storage: 'local', dir: './data/files', s3: undefined });
    });

    it('reads an S3 bucket: AWS by default, path style when an endpoint is given', () => {
      expect(load(S3).files.s3).toEqual({
        bucket: 'chat-files',
        endpoint: undefined,
        region: 'us-east-1',
        accessKeyId: undefined,
        forcePathStyle: false,
      });
      const compatible = load({
        ...S3,
        FILES__S3_ENDPOINT: 'http://minio:9000/',
        FILES__S3_REGION: 'eu-west-1',
        FILES__S3_ACCESS_KEY_ID: 'AKIDEXAMPLE',
        FILES__S3_SECRET_ACCESS_KEY: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
      }).files.s3!;
      expect(compatible).toMatchObject({
        endpoint: 'http://minio:9000',
        region: 'eu-west-1',
        accessKeyId: 'AKIDEXAMPLE',
        forcePathStyle: true,
      });
      expect(compatible.secretAccessKey).toBe('wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY');
      const virtualHosted = { ...S3, FILES__S3_ENDPOINT: 'https://s3.example.com' };
      expect(
        load({ ...virtualHosted, FILES__S3_FORCE_PATH_STYLE: 'false' }).files.s3!.forcePathStyle,
      ).toBe(false);
    });

    it('keeps the secret access key out of JSON and inspected output of the configuration', () => {
      const secret = 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY';
      const config = load({
        ...S3,
        FILES__S3_ACCESS_KEY_ID: 'AKIDEXAMPLE',
        FILES__S3_SECRET_ACCESS_KEY: secret,
      });
      expect(JSON.stringify(config)).not.toContain(secret);
      expect(inspect(config, { depth: null })).not.toContain(secret);
    });

    it('refuses an unknown storage, a missing or malformed bucket, and half a key pair', () => {
      const base = { SECRET_KEY: SECRET };
      expectRefusal({ ...base, FILES__STORAGE: 'gcs' }, /^FILES__STORAGE must be one of local, s3/);
      expectRefusal({ ...base, FILES__STORAGE: 's3' }, /^FILES__STORAGE=s3 needs FILES__S3_BUCKET/);
      expectRefusal(
        { ...base, ...S3, FILES__S3_BUCKET: 'Chat_Files' },
        /^FILES__S3_BUCKET must be an S3 bucket name/,
      );
      expectRefusal(
        { ...base, ...S3, FILES__S3_ENDPOINT: 'minio:9000' },
        /^FILES__S3_ENDPOINT must be an http\(s\) URL/,
      );
      expectRefusal(
        { ...base, ...S3, FILES__S3_REGION: 'EU West' },
        /^FILES__S3_REGION must be a region/,
      );
      const halfPair = { ...base, ...S3, FILES__S3_SECRET_ACCESS_KEY: 'only-the-secret-value' };
      expectRefusal(
        halfPair,
        /^FILES__S3_ACCESS_KEY_ID and FILES__S3_SECRET_ACCESS_KEY go together/,
      );
      expect(() => AppConfig.fromEnv(halfPair)).toThrow(
        expect.objectContaining({ message: expect.not.stringContaining('only-the-secret-value') }),
      );
    });
  });

  describe('ADMIN_EMAILS', () => {
    it('is empty by default and takes a comma list, lower-cased and de-duplicated', () => {
      expect(load({}).admin.emails).toEqual([]);
      expect(
        load({ ADMIN_EMAILS: ' Ops@Example.com, root@example.org ,ops@example.com' }).admin.emails,
      ).toEqual(['ops@example.com', 'root@example.org']);
    });

    it('refuses an entry that is not an e-mail address', () => {
      expectRefusal(
        { SECRET_KEY: SECRET, ADMIN_EMAILS: 'ops@example.com, not-an-address' },
        /^ADMIN_EMAILS entry "not-an-address" is not an e-mail address/,
      );
    });
  });
});
