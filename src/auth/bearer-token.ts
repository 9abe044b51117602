/**
 * The token of an `Authorization: Bearer <token>` header (scheme case-insensitive), or undefined
 * when the header is missing or uses another scheme. Shared by the HTTP guard and socket handshakes.
 */
export function extractBearerToken(header: string | string[] | undefined): string | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  if (!value) return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(value.trim());
  return match?.[1];
}
