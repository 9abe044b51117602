import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { baseTestEnv, describeE2e, startAppOnPreviousSchema, type TestApp } from '@app/testing';
import { MIGRATIONS } from '../src/database/migrations';
import { UserRoles1766100000000 } from '../src/database/migrations/1766100000000-user-roles';
import { AuditLog1766100100000 } from '../src/database/migrations/1766100100000-audit-log';
import { UserChangeNotifications1766700000000 } from '../src/database/migrations/1766700000000-user-change-notifications';
import { storedPasswordHash } from './factories/previous-release.factory';

const PASSWORD = 'correct horse battery staple';

/** The roles and audit-log migrations on a database that the previous release built and filled. */
describeE2e('user roles and audit log migrations', () => {
  let t: TestApp;
  const adminId = randomUUID();
  const userId = randomUUID();
  const adminEmail = `old-admin-${adminId.slice(0, 8)}@example.com`;
  const userEmail = `old-user-${userId.slice(0, 8)}@example.com`;

  beforeAll(async () => {
    // Every migration before these two, and two accounts: one with the old is_admin flag set.
    t = await startAppOnPreviousSchema(
      MIGRATIONS.slice(0, MIGRATIONS.indexOf(UserRoles1766100000000)),
      async (db, p) => {
        const isPostgres = db.options.type === 'postgres';
        for (const [id, email, isAdmin] of [
          [adminId, adminEmail, true],
          [userId, userEmail, false],
        ] as const) {
          await db.query(
            `INSERT INTO users (id, email, password_hash, is_admin) VALUES (${p(1)}, ${p(2)}, ${p(3)}, ${p(4)})`,
            [id, email, await storedPasswordHash(PASSWORD), isPostgres ? isAdmin : Number(isAdmin)],
          );
        }
      },
      { ...baseTestEnv(), RATE_LIMIT__AUTH_PER_MINUTE: '1000' },
    );
  });
  afterAll(() => t?.close());

  const login = async (email: string) =>
    (await request(t.url).post('/api/auth/login').send({ email, password: PASSWORD }).expect(200))
      .body.access_token as string;

  it('turns is_admin into the admin role, keeps everyone signing in and registering, and starts an empty audit log', async () => {
    const adminToken = await login(adminEmail);
    const userToken = await login(userEmail);
    const listed = await request(t.url)
      .get('/api/admin/users')
      .set('Authorization', `Bearer ${adminToken}`)
      .expect(200);
    const roles = Object.fromEntries(
      (listed.body.items as { email: string; role: string }[]).map((u) => [u.email, u.role]),
    );
    expect(roles).toEqual({ [adminEmail]: 'admin', [userEmail]: 'user' });
    expect(listed.body.items[0].quota).toMatchObject({ requests_per_minute_overridden: false });
    await request(t.url)
      .get('/api/admin/users')
      .set('Authorization', `Bearer ${userToken}`)
      .expect(403);
    const audit = await request(t.url)
      .get('/api/admin/audit')
      .set('Authorization', `Bearer ${adminToken}`)
      .expect(200);
    expect(audit.body.total).toBe(0);
    // is_admin stays for the previous release (NOT NULL with a default): new accounts still insert.
    await request(t.url)
      .post('/api/auth/register')
      .send({ email: `new-${userId.slice(0, 8)}@example.com`, password: PASSWORD })
      .expect(201);
  });

  it('reverts cleanly: role, quota overrides and audit_log go; is_admin was kept for the previous release', async () => {
    const db = t.app.get(DataSource);
    const runner = db.createQueryRunner();
    try {
      // Later migrations first, as migration:revert would: the users trigger watches `role`.
      await new UserChangeNotifications1766700000000().down(runner);
      await new AuditLog1766100100000().down(runner);
      await new UserRoles1766100000000().down(runner);
      expect(await runner.hasTable('audit_log')).toBe(false);
      expect(await runner.hasColumn('users', 'role')).toBe(false);
      expect(await runner.hasColumn('users', 'tokens_per_day_limit')).toBe(false);
      const rows = (await runner.query(
        "SELECT email, is_admin FROM users WHERE email LIKE 'old-%'",
      )) as {
        email: string;
        is_admin: unknown;
      }[];
      expect(Object.fromEntries(rows.map((row) => [row.email, Boolean(row.is_admin)]))).toEqual({
        [adminEmail]: true,
        [userEmail]: false,
      });
      await new UserRoles1766100000000().up(runner);
      await new AuditLog1766100100000().up(runner);
      await new UserChangeNotifications1766700000000().up(runner);
      expect(await runner.hasTable('audit_log')).toBe(true);
      expect(await runner.hasColumn('users', 'tokens_per_day_limit')).toBe(true);
    } finally {
      await runner.release();
    }
  });
});
