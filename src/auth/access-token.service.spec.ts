import { JwtService } from '@nestjs/jwt';
import type { Repository } from 'typeorm';
import { ForbiddenError, UnauthorizedError } from '@app/common';
import type { AppConfig } from '@app/config';
import type { User } from '../users/entities/user.entity';
import { AccessTokenService } from './access-token.service';
import { ActiveUserCache } from './active-user-cache';

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
    new ActiveUserCache(),
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

  describe('with an open ActiveUserCache', () => {
    type Row = { id: string; email: string; role: string; is_active: boolean };
    let rows: Map<string, Row>;
    let reads: number;
    /** Resolves the read in flight, when `holdReads` is set. */
    let releaseRead: (() => void) | undefined;
    let holdReads: boolean;
    let cache: ActiveUserCache;
    let tokens: AccessTokenService;

    beforeEach(() => {
      rows = new Map([['u1', { id: 'u1', email: 'a@example.com', role: 'user', is_active: true }]]);
      reads = 0;
      holdReads = false;
      const table = {
        ...users,
        query: async (_sql: string, [id]: [string]) => {
          reads += 1;
          const row = rows.get(id);
          const answer = row ? [{ ...row }] : [];
          if (holdReads) await new Promise<void>((resolve) => (releaseRead = resolve));
          return answer;
        },
      };
      cache = new ActiveUserCache();
      cache.open();
      tokens = new AccessTokenService(
        jwt,
        { security: { accessTokenTtlSeconds: 60 } } as AppConfig,
        table as unknown as Repository<User>,
        cache,
      );
    });

    it('reads an active account once, until a change of it is told', async () => {
      const { accessToken } = await tokens.issue('u1');
      expect((await tokens.verify(accessToken)).email).toBe('a@example.com');
      expect((await tokens.verify(accessToken)).email).toBe('a@example.com');
      expect(reads).toBe(1);

      rows.get('u1')!.is_active = false;
      cache.forget('u1');
      await expect(tokens.verify(accessToken)).rejects.toBeInstanceOf(ForbiddenError);
      // A refused account is not kept: every attempt reads it again.
      await expect(tokens.verify(accessToken)).rejects.toBeInstanceOf(ForbiddenError);
      expect(reads).toBe(3);
    });

    it('does not keep a read that a change overtook', async () => {
      const { accessToken } = await tokens.issue('u1');
      holdReads = true;
      const stale = tokens.verify(accessToken);
      await new Promise((resolve) => setImmediate(resolve));
      // The row was read as active; the account is disabled before the read comes back.
      rows.get('u1')!.is_active = false;
      cache.forget('u1');
      releaseRead!();
      expect((await stale).id).toBe('u1');
      holdReads = false;
      await expect(tokens.verify(accessToken)).rejects.toBeInstanceOf(ForbiddenError);
    });

    it('answers nothing from a closed cache, and hands out copies', async () => {
      const { accessToken } = await tokens.issue('u1');
      const first = await tokens.verify(accessToken);
      first.role = 'admin';
      expect((await tokens.verify(accessToken)).role).toBe('user');
      cache.close();
      await tokens.verify(accessToken);
      await tokens.verify(accessToken);
      expect(reads).toBe(3);
    });
  });
});
