import type { IncomingMessage } from 'node:http';
import { randomUUID } from 'node:crypto';
import { JwtService } from '@nestjs/jwt';
import { DataSource } from 'typeorm';
import { ForbiddenError, UnauthorizedError } from '@app/common';
import { AppConfig, buildDataSourceOptions } from '@app/config';
import { ApiKeyAuthenticator } from '../api-keys/api-key-authenticator';
import { ApiKeyHasher } from '../api-keys/api-key-hasher';
import { ApiKeysService } from '../api-keys/api-keys.service';
import { ApiKey } from '../api-keys/entities/api-key.entity';
import { AuditLogService } from '../audit/audit-log.service';
import { SYSTEM_AUDIT_CONTEXT } from '../audit/audit-context';
import { AuditLogEntry } from '../audit/entities/audit-log-entry.entity';
import { ActiveUserCache } from '../auth/active-user-cache';
import { AccessTokenService } from '../auth/access-token.service';
import { buildJwtOptions } from '../auth/jwt-options';
import { User } from '../users/entities/user.entity';
import { SocketAuthenticator } from './socket-authenticator';

describe(SocketAuthenticator.name, () => {
  const config = AppConfig.fromEnv({
    SECRET_KEY: 'k3Jq9vX2mW8pL5tR7yB4nC6dF1gH0sZa',
    DATABASE_URL: 'sqlite://:memory:',
  });
  const jwt = new JwtService(buildJwtOptions(config));
  let db: DataSource;
  let tokens: AccessTokenService;
  let sut: SocketAuthenticator;
  let keys: ApiKeysService;

  beforeAll(async () => {
    // The real token service on a real (in-memory) database: a token is only as good as its user row.
    db = await new DataSource(buildDataSourceOptions(config.database)).initialize();
    tokens = new AccessTokenService(jwt, config, db.getRepository(User), new ActiveUserCache());
    const hasher = new ApiKeyHasher(config);
    keys = new ApiKeysService(
      hasher,
      db.getRepository(ApiKey),
      new AuditLogService(db.getRepository(AuditLogEntry)),
    );
    sut = new SocketAuthenticator(
      tokens,
      new ApiKeyAuthenticator(hasher, db.getRepository(ApiKey)),
    );
  });
  afterAll(() => db.destroy());

  async function newUser(isActive = true): Promise<{ id: string; email: string; token: string }> {
    const id = randomUUID();
    const email = `${id}@example.com`;
    await db.getRepository(User).insert({ id, email, passwordHash: 'x', isActive });
    return { id, email, token: (await tokens.issue(id)).accessToken };
  }

  const handshake = (
    parts: { auth?: Record<string, unknown>; authorization?: string; query?: string } = {},
  ) => ({
    auth: parts.auth ?? {},
    headers: parts.authorization ? { authorization: parts.authorization } : {},
    query: parts.query ? { token: parts.query } : {},
  });
  const upgrade = (query?: string, authorization?: string) => ({
    request: { headers: authorization ? { authorization } : {} } as IncomingMessage,
    url: new URL(`http://localhost/api/chat/ws${query ? `?token=${query}` : ''}`),
  });

  describe('Socket.IO handshake', () => {
    it('accepts the token from auth.token, with or without a Bearer prefix', async () => {
      const alice = await newUser();
      for (const token of [alice.token, `Bearer ${alice.token}`]) {
        const identity = await sut.socketIo(handshake({ auth: { token } }));
        expect(identity.user).toEqual({ id: alice.id, email: alice.email, role: 'user' });
      }
    });

    it('accepts an Authorization: Bearer header or a token query parameter', async () => {
      const alice = await newUser();
      const fromHeader = await sut.socketIo(handshake({ authorization: `Bearer ${alice.token}` }));
      const fromQuery = await sut.socketIo(handshake({ query: alice.token }));
      expect(fromHeader.user.id).toBe(alice.id);
      expect(fromQuery.user.id).toBe(alice.id);
    });

    it('prefers auth.token, then the header, then the query', async () => {
      const [alice, bob, carol] = [await newUser(), await newUser(), await newUser()];
      const all = handshake({
        auth: { token: alice.token },
        authorization: `Bearer ${bob.token}`,
        query: carol.token,
      });
      expect((await sut.socketIo(all)).user.id).toBe(alice.id);
      const noAuth = handshake({ authorization: `Bearer ${bob.token}`, query: carol.token });
      expect((await sut.socketIo(noAuth)).user.id).toBe(bob.id);
    });

    it('gives the token expiry, so later events can be refused', async () => {
      const alice = await newUser();
      const { expiresAt } = await sut.socketIo(handshake({ auth: { token: alice.token } }));
      const expected = Date.now() / 1000 + config.security.accessTokenTtlSeconds;
      expect(expiresAt).toBeGreaterThan(expected - 5);
      expect(expiresAt).toBeLessThanOrEqual(Math.ceil(expected));
    });

    it('refuses a missing, non-string, forged or expired token as unauthorized', async () => {
      const alice = await newUser();
      const expired = await jwt.signAsync({ sub: alice.id }, { jwtid: 'x', expiresIn: -10 });
      const forged = new JwtService({ secret: 'another-secret-of-32-characters!!' }).sign({
        sub: alice.id,
        jti: 'x',
      });
      await expect(sut.socketIo(handshake())).rejects.toThrow(
        new UnauthorizedError('Not authenticated'),
      );
      await expect(sut.socketIo(handshake({ auth: { token: 42 } }))).rejects.toThrow(
        new UnauthorizedError('Not authenticated'),
      );
      await expect(sut.socketIo(handshake({ auth: { token: forged } }))).rejects.toThrow(
        new UnauthorizedError('Invalid access token'),
      );
      await expect(sut.socketIo(handshake({ auth: { token: expired } }))).rejects.toThrow(
        new UnauthorizedError('Access token has expired'),
      );
    });

    it('refuses the token of a deleted account (unauthorized) or a disabled one (forbidden)', async () => {
      const disabled = await newUser(false);
      const deleted = await newUser();
      await db.getRepository(User).delete({ id: deleted.id });
      await expect(sut.socketIo(handshake({ auth: { token: disabled.token } }))).rejects.toThrow(
        ForbiddenError,
      );
      await expect(sut.socketIo(handshake({ auth: { token: deleted.token } }))).rejects.toThrow(
        new UnauthorizedError('Invalid access token'),
      );
    });

    it('verifies the token once per handshake', async () => {
      const alice = await newUser();
      const verify = jest.spyOn(jwt, 'verifyAsync');
      try {
        await sut.socketIo(handshake({ auth: { token: alice.token } }));
        expect(verify).toHaveBeenCalledTimes(1);
      } finally {
        verify.mockRestore();
      }
    });
  });

  describe('plain WebSocket upgrade', () => {
    it('accepts the token query parameter or an Authorization: Bearer header, query first', async () => {
      const [alice, bob] = [await newUser(), await newUser()];
      const fromQuery = upgrade(alice.token);
      const fromHeader = upgrade(undefined, `Bearer ${bob.token}`);
      const both = upgrade(alice.token, `Bearer ${bob.token}`);
      expect((await sut.webSocket(fromQuery.request, fromQuery.url)).user.id).toBe(alice.id);
      expect((await sut.webSocket(fromHeader.request, fromHeader.url)).user.id).toBe(bob.id);
      expect((await sut.webSocket(both.request, both.url)).user.id).toBe(alice.id);
    });

    it('refuses a missing token or another scheme as unauthorized', async () => {
      const alice = await newUser();
      const none = upgrade();
      const basic = upgrade(undefined, `Basic ${alice.token}`);
      await expect(sut.webSocket(none.request, none.url)).rejects.toThrow(
        new UnauthorizedError('Not authenticated'),
      );
      await expect(sut.webSocket(basic.request, basic.url)).rejects.toThrow(
        new UnauthorizedError('Not authenticated'),
      );
    });
  });

  describe('personal API keys', () => {
    it('accepts a key with the chat scope on both transports, until it expires', async () => {
      const alice = await newUser();
      const { key } = await keys.create(alice.id, {
        name: 's',
        scopes: ['chat'],
        expiresInDays: 2,
      });
      const identity = await sut.socketIo(handshake({ auth: { token: key } }));
      expect(identity.user).toMatchObject({ id: alice.id, email: alice.email });
      expect(identity.expiresAt * 1000).toBeGreaterThan(Date.now() + 86_400_000);
      const ws = upgrade(key);
      expect((await sut.webSocket(ws.request, ws.url)).user.id).toBe(alice.id);
    });

    it('lets the transports re-check the key on each event: revoked → unauthorized', async () => {
      const alice = await newUser();
      const created = await keys.create(alice.id, { name: 'r', scopes: ['chat'] });
      const ws = upgrade(created.key);
      const identity = await sut.webSocket(ws.request, ws.url);
      await expect(identity.revalidate()).resolves.toBeUndefined();
      await keys.revoke(alice.id, created.id, SYSTEM_AUDIT_CONTEXT);
      await expect(identity.revalidate()).rejects.toThrow(new UnauthorizedError('Invalid API key'));
      const jwt = await sut.socketIo(handshake({ auth: { token: alice.token } }));
      await expect(jwt.revalidate()).resolves.toBeUndefined();
      await db.getRepository(User).update({ id: alice.id }, { isActive: false });
      await expect(jwt.revalidate()).rejects.toThrow(new ForbiddenError('Account is disabled'));
    });

    it('never ends the connection of a key without expiry', async () => {
      const alice = await newUser();
      const { key } = await keys.create(alice.id, { name: 's', scopes: ['chat'] });
      const identity = await sut.socketIo(handshake({ query: key }));
      expect(identity.expiresAt).toBe(Number.POSITIVE_INFINITY);
    });

    it('refuses a key without the chat scope (forbidden) and a revoked one (unauthorized)', async () => {
      const alice = await newUser();
      const models = await keys.create(alice.id, { name: 'm', scopes: ['models'] });
      await expect(sut.socketIo(handshake({ auth: { token: models.key } }))).rejects.toThrow(
        new ForbiddenError('This API key does not have the "chat" scope'),
      );
      const chat = await keys.create(alice.id, { name: 'c', scopes: ['chat'] });
      await keys.revoke(alice.id, chat.id, SYSTEM_AUDIT_CONTEXT);
      await expect(sut.socketIo(handshake({ auth: { token: chat.key } }))).rejects.toThrow(
        new UnauthorizedError('Invalid API key'),
      );
    });
  });
});
