import { createHash, randomBytes } from 'node:crypto';

/** A random, URL-safe token of 256 bits (refresh, e-mail verification, password reset). */
export function generateOpaqueToken(): string {
  return randomBytes(32).toString('base64url');
}

/** What the database keeps instead of the token: its SHA-256, hex (64 chars). */
export function hashOpaqueToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}
