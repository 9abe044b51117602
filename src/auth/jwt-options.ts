import type { JwtModuleOptions } from '@nestjs/jwt';
import type { AppConfig } from '@app/config';

/** The one JWT setup: HS256 pinned for signing and verifying, issuer and audience always checked. */
export function buildJwtOptions(config: AppConfig): JwtModuleOptions {
  const { jwtSecret, jwtIssuer, jwtAudience, accessTokenTtlSeconds } = config.security;
  return {
    secret: jwtSecret,
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
