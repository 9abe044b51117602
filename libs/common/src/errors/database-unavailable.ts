/** The 503 detail of a request that failed because the database could not be reached. */
export const DATABASE_UNAVAILABLE_DETAIL = 'Database unavailable';
/** `Retry-After` (seconds) sent with it: database restarts and failovers take seconds. */
export const DATABASE_RETRY_AFTER_SECONDS = 5;

/**
 * PostgreSQL SQLSTATEs of a lost or refused connection: class 08 (connection exception),
 * 57P01-57P03 (admin shutdown, crash shutdown, cannot connect now: the server is stopping or
 * starting) and 53300 (too many connections).
 */
const POSTGRES_CODES = new Set([
  '08000',
  '08001',
  '08003',
  '08004',
  '08006',
  '08007',
  '57P01',
  '57P02',
  '57P03',
  '53300',
]);
/** Socket errors, counted only on a network syscall (connect, DNS, read, write). */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
]);
const NETWORK_SYSCALLS = new Set(['connect', 'getaddrinfo', 'read', 'write']);
/** node-postgres messages for a connection that died or could not be made in time. */
const PG_MESSAGES = [
  /^Connection terminated/,
  /^timeout exceeded when trying to connect/,
  /^Client has encountered a connection error and is not queryable/,
  /^Client was closed and is not queryable/,
];
/** MongoDB driver / Mongoose failures to reach the server. */
const MONGO_NAMES = new Set([
  'MongoServerSelectionError',
  'MongoNetworkError',
  'MongoNetworkTimeoutError',
  'MongoNotConnectedError',
  'MongoTopologyClosedError',
]);

interface ErrorLike {
  name?: unknown;
  message?: unknown;
  code?: unknown;
  syscall?: unknown;
  driverError?: unknown;
  errors?: unknown;
}

/**
 * True when `error` means the database is unreachable (down, restarting, refusing
 * connections) rather than a bug: TypeORM's QueryFailedError around such a driver error, the
 * raw node-postgres/socket error a pool raises when it cannot connect, or a MongoDB
 * server-selection/network error. Matched by shape, so libs/common needs no ORM import.
 */
export function isDatabaseUnavailable(error: unknown, depth = 0): boolean {
  if (!error || typeof error !== 'object' || depth > 3) return false;
  const e = error as ErrorLike;
  const code = typeof e.code === 'string' ? e.code : undefined;
  if (code && POSTGRES_CODES.has(code)) return true;
  if (code && NETWORK_CODES.has(code) && NETWORK_SYSCALLS.has(String(e.syscall))) return true;
  const name = typeof e.name === 'string' ? e.name : '';
  const message = typeof e.message === 'string' ? e.message : '';
  if (MONGO_NAMES.has(name)) return true;
  if (name === 'MongooseError' && /buffering timed out/.test(message)) return true;
  if (PG_MESSAGES.some((pattern) => pattern.test(message))) return true;
  // AggregateError (happy-eyeballs connect to several addresses) holds the socket errors.
  if (
    Array.isArray(e.errors) &&
    e.errors.some((inner) => isDatabaseUnavailable(inner, depth + 1))
  ) {
    return true;
  }
  // Only TypeORM's wrapper is unwrapped: a `cause` chain may lead to a provider's socket error.
  return isDatabaseUnavailable(e.driverError, depth + 1);
}
