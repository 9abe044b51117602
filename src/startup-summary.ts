import type { AddressInfo } from 'node:net';
import { describeCors } from '@app/common';
import type { AppConfig, DatabaseConfig } from '@app/config';

/** What the start-up line reports; gathered by main.ts once the server listens. */
export interface StartupFacts {
  config: AppConfig;
  address: AddressInfo | string | null;
  /** Names of the configured providers, in registry order. */
  providers: string[];
  defaultModel?: string;
  /** True when the database has migrations that were not applied. */
  pendingMigrations: boolean;
}

/** A URL a person can open: wildcard bind addresses become `localhost`. */
export function publicUrl(config: AppConfig, address: AddressInfo | string | null): string {
  const port = typeof address === 'object' && address ? address.port : config.http.port;
  const host = config.http.host;
  const shown = ['0.0.0.0', '::', '0:0:0:0:0:0:0:0', ''].includes(host)
    ? 'localhost'
    : host.includes(':')
      ? `[${host}]`
      : host;
  return `http://${shown}:${port}`;
}

/** The database without credentials: `sqlite ./chatbot.db` or `postgres db.internal:5432/chatbot`. */
export function describeDatabase(db: DatabaseConfig): string {
  if (db.type === 'sqlite') return `sqlite ${db.sqlitePath}`;
  try {
    const url = new URL(db.url);
    return `postgres ${url.host}${url.pathname}`;
  } catch {
    return 'postgres';
  }
}

/** One line saying where the server is, what it runs on, and where to go next. */
export function startupLine(facts: StartupFacts): string {
  const { config } = facts;
  const url = publicUrl(config, facts.address);
  const parts = [
    `Chatbot API listening on ${url}`,
    `database ${describeDatabase(config.database)}${
      facts.pendingMigrations ? ' (PENDING MIGRATIONS: run "npm run migration:run")' : ''
    }`,
    `history ${config.historyStore}`,
    `providers ${facts.providers.join(', ') || 'none'}${
      facts.defaultModel ? ` (default ${facts.defaultModel})` : ''
    }`,
  ];
  if (config.redisUrl) parts.push('redis on');
  parts.push(`cors ${describeCors(config.http.corsOrigins)}`);
  if (config.http.webClientEnabled) parts.push(`chat page ${url}/`);
  if (config.http.docsEnabled) parts.push(`docs ${url}/docs`);
  return parts.join(' | ');
}

/** A one-line reason why start-up failed, with the setting to check where that is clear. */
export function describeStartError(error: unknown, config: AppConfig): string {
  const err = error as NodeJS.ErrnoException & { address?: string; port?: number };
  const message = err instanceof Error ? err.message : String(error);
  const code = err?.code ?? '';
  if (code === 'EADDRINUSE') {
    return `port ${config.http.port} on ${config.http.host} is already in use: stop the other process or set PORT`;
  }
  if (code === 'EACCES') {
    return `not allowed to listen on port ${config.http.port}: use a port above 1024 (PORT)`;
  }
  if (['ECONNREFUSED', 'ENOTFOUND', 'ETIMEDOUT', 'EAI_AGAIN'].includes(code)) {
    return `${message}: a service is not reachable; check DATABASE_URL, REDIS_URL and MONGO_URI`;
  }
  if (code === 'SQLITE_CANTOPEN') {
    return `${message}: cannot open the SQLite file ${config.database.sqlitePath}; check DATABASE_URL and that its folder exists and is writable`;
  }
  return message;
}
