import { JwtService } from '@nestjs/jwt';
import type { Repository } from 'typeorm';
import { UnauthorizedError } from '@app/common';
import type { AppConfig } from '@app/config';
import type { User } from '../users/entities/user.entity';
import { AccessTokenService } from './access-token.service';

describe(AccessTokenService.name, () => {
  const jwt = new JwtService({
    secret: 'test-secret-of-some-length',
    signOptions: { expiresIn: 60 },
  });
  const users = { manager: { connection: { options: { type: 'better-sqlite3' } } } };
  const sut = new AccessTokenService(
    jwt,
    { security: { accessTokenTtlSeconds: 60 } } as AppConfig,
    users as unknown as Repository<User>,
  );

  it('verifies the signature once per request: the rate limiter and the guard share the claims', async () => {
    const { accessToken } = await sut.issue('user-1');
    const verify = jest.spyOn(jwt, 'verifyAsync');
    const request = {};

    const first = await sut.verifyClaimsOf(request, accessToken);
    const again = await sut.verifyClaimsOf(request, accessToken);

    expect(again).toBe(first);
    expect(first.sub).toBe('user-1');
    expect(verify).toHaveBeenCalledTimes(1);
    // Another request, or another token on the same request, is verified on its own.
    await sut.verifyClaimsOf({}, accessToken);
    const { accessToken: other } = await sut.issue('user-2');
    expect((await sut.verifyClaimsOf(request, other)).sub).toBe('user-2');
    expect(verify).toHaveBeenCalledTimes(3);
  });

  it('remembers nothing for a token that fails', async () => {
    const request = {};
    await expect(sut.verifyClaimsOf(request, 'not.a.token')).rejects.toBeInstanceOf(
      UnauthorizedError,
    );
    await expect(sut.verifyClaimsOf(request, 'not.a.token')).rejects.toBeInstanceOf(
      UnauthorizedError,
    );
  });
});
