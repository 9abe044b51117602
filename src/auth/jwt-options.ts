import { createSecretKey } from 'node:crypto';
import type { JwtModuleOptions } from '@nestjs/jwt';
import type { AppConfig } from '@app/config';

/** The one JWT setup: HS256 pinned for signing and verifying, issuer and audience always checked. */
export function buildJwtOptions(config: AppConfig): JwtModuleOptions {
  const { jwtSecret, jwtIssuer, jwtAudience, accessTokenTtlSeconds } = config.security;
  return {
    // A KeyObject, not the string: given a string, jsonwebtoken first tries to parse it as a PEM
    // public/private key on every sign and verify (a thrown and caught OpenSSL error each time,
    // ~1 ms of CPU per call under load) before it falls back to an HMAC secret.
    secret: createSecretKey(Buffer.from(jwtSecret, 'utf8')),
    signOptions: {
      algorithm: 'HS256',
      issuer: jwtIssuer,
      audience: jwtAudience,
      expiresIn: accessTokenTtlSeconds,
    },
    verifyOptions: {
      algorithms: ['HS256'],
      issuer: jwtIssuer,
      audience: jwtAudience,
    },
  };
}
