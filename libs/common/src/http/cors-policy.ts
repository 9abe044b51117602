/** `CORS_ORIGINS` parsed: `*`, a list of origins, or an empty list for same-origin only. */
export type CorsOrigins = string[] | '*';

/** What Express (`cors`) and Socket.IO are given; the same object serves both. */
export interface CorsSettings {
  origin: true | string[];
  credentials: boolean;
  exposedHeaders: string[];
}

/**
 * The CORS settings of the HTTP API and the Socket.IO handshake, or undefined for same-origin
 * only: then no CORS headers are sent and browsers keep other sites out. Credentials are
 * allowed for listed origins, never for `*`.
 */
export function corsSettings(origins: CorsOrigins): CorsSettings | undefined {
  if (origins !== '*' && origins.length === 0) return undefined;
  return {
    origin: origins === '*' ? true : origins,
    credentials: origins !== '*',
    // X-Session-Id: the history session of a stored /v1 exchange.
    exposedHeaders: ['Retry-After', 'X-Request-Id', 'X-Session-Id'],
  };
}

/**
 * Whether a WebSocket upgrade may proceed (browsers do not apply CORS to WebSockets, so the
 * server checks `Origin` itself). No `Origin` (a non-browser client) passes; a browser's must be
 * listed, or, with no list, be the origin the request was sent to (its `Host`).
 */
export function isWebSocketOriginAllowed(
  origin: string | undefined,
  host: string | undefined,
  origins: CorsOrigins,
): boolean {
  if (!origin || origins === '*') return true;
  if (origins.length) return origins.includes(origin);
  return URL.canParse(origin) && new URL(origin).host === host;
}

/** For the start-up line: `same-origin`, `1 origin`, `3 origins` or `*`. */
export function describeCors(origins: CorsOrigins): string {
  if (origins === '*') return '*';
  if (origins.length === 0) return 'same-origin';
  return `${origins.length} origin${origins.length === 1 ? '' : 's'}`;
}
