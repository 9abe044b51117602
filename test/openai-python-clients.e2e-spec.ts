import { execFile, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import request from 'supertest';
import {
  announceSkip,
  describeOnSqliteOnly,
  registerAndLogin,
  simulatedGroqEnv,
  startAppWithSimulator,
  type LoggedInUser,
  type TestApp,
} from '@app/testing';

const ROOT = join(__dirname, '..');
const QUOTA_PER_MINUTE = 5;
const CHECKS = [
  'models.list',
  'chat.completions.create',
  'stream with usage',
  'AuthenticationError',
  'PermissionDeniedError',
  'NotFoundError',
  'BadRequestError',
  'RateLimitError',
  'langchain invoke',
  'langchain stream',
  'tool call round trip',
  'tool call stream',
  'langchain tool call',
];
/** The simulated provider's model (the local provider calls no tools). */
const TOOL_MODEL = 'groq/llama-3.1-8b-instant';

/** The virtualenv of scripts/openai-clients-venv.sh when it exists (CI makes it), else undefined. */
function clientsVenv(): string | undefined {
  const found = spawnSync('bash', ['scripts/openai-clients-venv.sh'], {
    cwd: ROOT,
    encoding: 'utf8',
    // Only look: installing from PyPI is the CI script's job, not a test's.
    env: { ...process.env, OPENAI_CLIENTS_CHECK_ONLY: '1' },
  });
  return found.status === 0 ? found.stdout.trim() : undefined;
}

/**
 * The official `openai` Python SDK and LangChain's `ChatOpenAI` (pinned, from PyPI, in the
 * virtualenv of scripts/openai-clients-venv.sh) against a live server: test/python/openai_clients_check.py
 * asserts with their own types and exception classes. Runs once, in the SQLite project.
 */
describeOnSqliteOnly('OpenAI Python SDK and LangChain against /v1', () => {
  const venv = clientsVenv();
  if (!venv) {
    const reason = 'the OpenAI clients virtualenv is missing';
    if (process.env.CI === 'true') {
      it('has its virtualenv (scripts/openai-clients-venv.sh)', () => {
        throw new Error(`${reason}: .ci/run must run scripts/openai-clients-venv.sh first`);
      });
      return;
    }
    announceSkip({
      name: 'OpenAI Python clients',
      reason,
      setup: 'bash scripts/openai-clients-venv.sh',
    });
    it.skip('runs the Python clients', () => undefined);
    return;
  }

  let t: TestApp;
  const key = async (user: LoggedInUser, scopes: string[]) =>
    (
      await request(t.url)
        .post('/api/keys')
        .set('Authorization', `Bearer ${user.token}`)
        .send({ name: 'python', scopes })
        .expect(201)
    ).body.key as string;

  beforeAll(async () => {
    // The simulator serves TOOL_MODEL; the other checks use the local provider's echo.
    t = await startAppWithSimulator((url) => ({
      ...simulatedGroqEnv(url),
      AI_SERVICES__DEFAULT_MODEL: 'local/echo',
      QUOTA__REQUESTS_PER_MINUTE: String(QUOTA_PER_MINUTE),
      RATE_LIMIT__DEFAULT_PER_MINUTE: '10000',
    }));
  });
  afterAll(() => t.close());

  it('passes every check of test/python/openai_clients_check.py', async () => {
    const [alice, quotaUser, toolsUser] = [
      await registerAndLogin(t.url),
      await registerAndLogin(t.url),
      await registerAndLogin(t.url),
    ];
    // alice's chat requests (2 SDK, 2 LangChain) and toolsUser's (4 SDK, 1 LangChain) stay within
    // the quota; quotaUser exhausts it.
    const env = {
      ...process.env,
      BASE_URL: t.url,
      API_KEY: await key(alice, ['chat', 'models']),
      MODELS_ONLY_KEY: await key(alice, ['models']),
      QUOTA_KEY: await key(quotaUser, ['chat']),
      QUOTA_PER_MINUTE: String(QUOTA_PER_MINUTE),
      TOOLS_KEY: await key(toolsUser, ['chat']),
      TOOL_MODEL,
    };
    const result = await new Promise<{ code: number; out: string }>((resolve) => {
      execFile(
        join(venv, 'bin/python'),
        ['test/python/openai_clients_check.py'],
        { cwd: ROOT, env, timeout: 120_000 },
        (error, stdout, stderr) => resolve({ code: error ? 1 : 0, out: `${stdout}${stderr}` }),
      );
    });
    expect({ code: result.code, out: result.out }).toEqual({ code: 0, out: expect.any(String) });
    expect(result.out.match(/^ok (.+)$/gm)?.map((line) => line.slice(3))).toEqual(CHECKS);
  });
});
