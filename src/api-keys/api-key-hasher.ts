import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { AppConfig } from '@app/config';

/** Every personal API key starts with this, so a bearer token is told from a JWT at a glance. */
export const API_KEY_MARKER = 'sk-cb-';
/** Characters of the key kept in clear (marker + 10): shown in lists and used as the lookup. */
export const API_KEY_PREFIX_LENGTH = API_KEY_MARKER.length + 10;
/** `sk-cb-` and 43 base64url characters (256 random bits). */
const API_KEY_PATTERN = /^sk-cb-[A-Za-z0-9_-]{43}$/;

/** A freshly generated key: the secret (shown once) and what is stored of it. */
export interface GeneratedApiKey {
  key: string;
  prefix: string;
  hash: string;
}

/** True when a bearer token is meant as a personal API key rather than an access token. */
export function isApiKeyToken(token: string): boolean {
  return token.startsWith(API_KEY_MARKER);
}

/**
 * Generates personal API keys and hashes them with HMAC-SHA-256 under a server key derived from
 * SECRET_KEY: a key is 256 random bits, so a fast keyed hash is enough (no bcrypt per request),
 * and a leaked table cannot be checked offline without the secret.
 */
@Injectable()
export class ApiKeyHasher {
  private readonly serverKey: Buffer;

  constructor(config: AppConfig) {
    // A key of its own, so API-key hashes never equal any other HMAC made with SECRET_KEY.
    this.serverKey = createHmac('sha256', config.security.secretKey)
      .update('personal-api-keys/v1')
      .digest();
  }

  generate(): GeneratedApiKey {
    const key = API_KEY_MARKER + randomBytes(32).toString('base64url');
    return { key, prefix: key.slice(0, API_KEY_PREFIX_LENGTH), hash: this.hash(key) };
  }

  /** The lookup prefix of a well-formed key, or undefined for anything else. */
  prefixOf(key: string): string | undefined {
    return API_KEY_PATTERN.test(key) ? key.slice(0, API_KEY_PREFIX_LENGTH) : undefined;
  }

  hash(key: string): string {
    return createHmac('sha256', this.serverKey).update(key, 'utf8').digest('hex');
  }

  /** Constant-time comparison of a presented key with a stored hash. */
  matches(key: string, storedHash: string): boolean {
    const presented = Buffer.from(this.hash(key), 'hex');
    const stored = Buffer.from(storedHash, 'hex');
    return presented.length === stored.length && timingSafeEqual(presented, stored);
  }
}
