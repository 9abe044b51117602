import { AppConfig } from '@app/config';
import { describeDatabase, describeStartError, publicUrl, startupLine } from './startup-summary';

const SECRET = 'k'.repeat(20) + 'x'.repeat(20);

function config(env: Record<string, string> = {}): AppConfig {
  return AppConfig.fromEnv({ SECRET_KEY: SECRET, ...env });
}

describe('startup summary', () => {
  it('prints URL, database, history, providers, chat page and docs on one line', () => {
    const sut = startupLine({
      config: config(),
      address: { address: '0.0.0.0', family: 'IPv4', port: 8000 },
      providers: ['groq', 'local'],
      defaultModel: 'groq/llama-3.1-8b-instant',
      pendingMigrations: false,
    });
    expect(sut).toBe(
      'Chatbot API listening on http://localhost:8000 | database sqlite ./chatbot.db | ' +
        'history sql | providers groq, local (default groq/llama-3.1-8b-instant) | ' +
        'cors same-origin | chat page http://localhost:8000/ | docs http://localhost:8000/docs',
    );
    expect(sut).not.toContain('\n');
  });

  it('leaves out what is switched off, and flags pending migrations and Redis', () => {
    const sut = startupLine({
      config: config({
        DOCS_ENABLED: 'false',
        WEB_CLIENT_ENABLED: 'false',
        REDIS_URL: 'redis://:secret@cache:6379',
        DATABASE_URL: 'postgres://app:hunter2@db.internal:5432/chatbot',
        CORS_ORIGINS: '*',
      }),
      address: null,
      providers: ['local'],
      pendingMigrations: true,
    });
    expect(sut).toBe(
      'Chatbot API listening on http://localhost:8000 | database postgres db.internal:5432/chatbot ' +
        '(PENDING MIGRATIONS: run "npm run migration:run") | history sql | providers local | redis on | ' +
        'cors *',
    );
    expect(sut).not.toMatch(/hunter2|secret/);
  });

  it('says which browser origins CORS lets in', () => {
    const line = (CORS_ORIGINS: string) =>
      startupLine({
        config: config({ CORS_ORIGINS }),
        address: null,
        providers: ['local'],
        pendingMigrations: false,
      });
    expect(line('')).toContain('| cors same-origin |');
    expect(line('https://a.example')).toContain('| cors 1 origin |');
    expect(line('https://a.example,https://b.example')).toContain('| cors 2 origins |');
    expect(line('*')).toContain('| cors * |');
  });

  it('shows the real port when PORT=0 picked one, and a bound host as given', () => {
    expect(
      publicUrl(config({ HOST: '127.0.0.1', PORT: '0' }), {
        address: '127.0.0.1',
        family: 'IPv4',
        port: 41234,
      }),
    ).toBe('http://127.0.0.1:41234');
    expect(publicUrl(config({ HOST: '::1' }), null)).toBe('http://[::1]:8000');
  });

  it('never prints database credentials', () => {
    expect(describeDatabase(config({ DATABASE_URL: 'postgresql://u:p4ss@h/db' }).database)).toBe(
      'postgres h/db',
    );
    expect(describeDatabase(config({ DATABASE_URL: 'sqlite://:memory:' }).database)).toBe(
      'sqlite :memory:',
    );
  });

  it('explains common start-up failures in one line', () => {
    const c = config({ PORT: '8123' });
    const inUse = Object.assign(new Error('listen EADDRINUSE: address already in use'), {
      code: 'EADDRINUSE',
    });
    expect(describeStartError(inUse, c)).toBe(
      'port 8123 on 0.0.0.0 is already in use: stop the other process or set PORT',
    );
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), {
      code: 'ECONNREFUSED',
    });
    expect(describeStartError(refused, c)).toBe(
      'connect ECONNREFUSED 127.0.0.1:5432: a service is not reachable; check DATABASE_URL, REDIS_URL and MONGO_URI',
    );
    expect(describeStartError(new Error('boom'), c)).toBe('boom');
  });
});
