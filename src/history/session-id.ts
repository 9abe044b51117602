import { randomUUID } from 'node:crypto';

const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A new session or message id: a random UUID, the same format in SQL and Mongo. */
export function newHistoryId(): string {
  return randomUUID();
}

/**
 * The canonical (lower-case) form of a client-supplied session id, or null when it is not a
 * UUID. Callers answer null with 404, so a malformed id never reaches a query.
 */
export function parseSessionId(value: unknown): string | null {
  return typeof value === 'string' && UUID_PATTERN.test(value) ? value.toLowerCase() : null;
}
