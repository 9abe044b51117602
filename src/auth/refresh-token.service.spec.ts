import { randomUUID } from 'node:crypto';
import { DataSource, Repository } from 'typeorm';
import { AppConfig, buildDataSourceOptions } from '@app/config';
import { UnauthorizedError } from '@app/common';
import { User } from '../users/entities/user.entity';
import { RefreshToken } from './entities/refresh-token.entity';
import { hashOpaqueToken } from './opaque-token';
import { RefreshTokenService } from './refresh-token.service';

describe(RefreshTokenService.name, () => {
  let db: DataSource;
  let rows: Repository<RefreshToken>;
  let sut: RefreshTokenService;
  let userId: string;
  const config = AppConfig.fromEnv({
    SECRET_KEY: 'k3Jq9vX2mW8pL5tR7yB4nC6dF1gH0sZa',
    SECURITY__REFRESH_TOKEN_EXPIRE_DAYS: '7',
    DATABASE_URL: 'sqlite://:memory:',
  });

  beforeAll(async () => {
    // A real (in-memory) SQLite database with the real migrations: no mocked persistence.
    db = await new DataSource(buildDataSourceOptions(config.database)).initialize();
    rows = db.getRepository(RefreshToken);
    sut = new RefreshTokenService(rows, config);
  });
  afterAll(() => db.destroy());

  beforeEach(async () => {
    userId = randomUUID();
    await db.getRepository(User).insert({
      id: userId,
      email: `${userId}@example.com`,
      passwordHash: 'x',
    });
  });

  /** The exchange AuthService performs: check, then spend and get the successor. */
  const exchange = async (token: string) => sut.rotate(await sut.findUsable(token));

  it('issues a 256-bit opaque token and stores only its SHA-256 with the configured expiry', async () => {
    const token = await sut.issue(userId);
    expect(Buffer.from(token, 'base64url')).toHaveLength(32);
    const [row] = await rows.findBy({ userId });
    expect(row.tokenHash).toBe(hashOpaqueToken(token));
    expect(row.expiresAt.getTime() - Date.now()).toBeGreaterThan(7 * 86_400_000 - 60_000);
    expect(row.expiresAt.getTime() - Date.now()).toBeLessThanOrEqual(7 * 86_400_000);
  });

  it('rotates within the family and spends the old token', async () => {
    const first = await sut.issue(userId);
    const second = await exchange(first);
    const [a, b] = await Promise.all([
      rows.findOneByOrFail({ tokenHash: hashOpaqueToken(first) }),
      rows.findOneByOrFail({ tokenHash: hashOpaqueToken(second) }),
    ]);
    expect(b.familyId).toBe(a.familyId);
    expect(a.usedAt).toBeInstanceOf(Date);
    expect(b.usedAt).toBeNull();
    expect(b.revokedAt).toBeNull();
  });

  it('revokes the whole family, and only it, when a spent token comes back', async () => {
    const first = await sut.issue(userId);
    const other = await sut.issue(userId);
    const second = await exchange(first);
    await expect(sut.findUsable(first)).rejects.toThrow(
      new UnauthorizedError(
        'Refresh token was already used; this login has been revoked, sign in again',
      ),
    );
    await expect(sut.findUsable(second)).rejects.toThrow('Refresh token has been revoked');
    await expect(exchange(other)).resolves.toEqual(expect.any(String));
  });

  it('lets only one of two concurrent exchanges of the same token win', async () => {
    const token = await sut.issue(userId);
    const row = await sut.findUsable(token);
    const results = await Promise.allSettled([sut.rotate(row), sut.rotate(row)]);
    expect(results.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
    // The race is treated as reuse: the family, including the winner's successor, is revoked.
    const family = await rows.findBy({ familyId: row.familyId });
    expect(family).toHaveLength(2);
    expect(family.every((r) => r.revokedAt !== null)).toBe(true);
  });

  it('refuses unknown and expired tokens', async () => {
    await expect(sut.findUsable('not-a-token')).rejects.toThrow('Invalid refresh token');
    const token = await sut.issue(userId);
    await rows.update({ userId }, { expiresAt: new Date(Date.now() - 1) });
    await expect(sut.findUsable(token)).rejects.toThrow('Refresh token has expired');
  });

  it('revokes a family only for its owner, and everything on revokeAllForUser', async () => {
    const mine = await sut.issue(userId);
    await sut.revokeFamilyOf(mine, randomUUID());
    await expect(sut.findUsable(mine)).resolves.toBeInstanceOf(RefreshToken);
    await sut.revokeFamilyOf(mine, userId);
    await expect(sut.findUsable(mine)).rejects.toThrow('Refresh token has been revoked');

    const a = await sut.issue(userId);
    const b = await sut.issue(userId);
    await sut.revokeAllForUser(userId);
    for (const token of [a, b]) {
      await expect(sut.findUsable(token)).rejects.toThrow('Refresh token has been revoked');
    }
  });
});
