import { randomBytes } from 'node:crypto';
import request from 'supertest';
import { DataSource } from 'typeorm';
import {
  describeE2e,
  registerAndLogin,
  startSecondInstance,
  startTestApp,
  testDatabaseKind,
  type LoggedInUser,
  type SecondInstance,
  type TestApp,
} from '@app/testing';
import { expectedLogs } from '@app/testing/expected-logs';
import { eventually } from './multi-instance.helpers';
import { ActiveUserCache } from '../src/auth/active-user-cache';
import { USER_CHANGES_APPLICATION_NAME } from '../src/auth/user-change-listener';
import { UserChangeNotifications1766700000000 } from '../src/database/migrations/1766700000000-user-change-notifications';

const onPostgres = testDatabaseKind() === 'postgres';

/**
 * A change of an account (disabled, demoted, deleted) applies to the next request on every
 * instance, whether an admin made it through the API or an operator in SQL. On PostgreSQL the
 * accounts behind access tokens are cached per instance (ActiveUserCache) and a trigger tells
 * every instance each change; these tests drive both instances and both kinds of change.
 */
describeE2e('account changes reach every instance', () => {
  const adminEmail = `admin-${randomBytes(4).toString('hex')}@example.com`;
  let a: TestApp;
  let b: SecondInstance;
  let db: DataSource;
  let cacheOfB: ActiveUserCache;
  let admin: LoggedInUser;

  beforeAll(async () => {
    const env = { RATE_LIMIT__AUTH_PER_MINUTE: '10000', ADMIN_EMAILS: adminEmail };
    a = await startTestApp(env);
    b = await startSecondInstance(a, env);
    db = a.app.get(DataSource);
    cacheOfB = b.app.get(ActiveUserCache);
    admin = await registerAndLogin(a.url, adminEmail);
  });
  afterAll(async () => {
    await b?.app.close();
    await a?.close();
  });

  const as = (user: LoggedInUser) => ({ Authorization: `Bearer ${user.token}` });
  const me = (url: string, user: LoggedInUser) => request(url).get('/api/users/me').set(as(user));
  /** B has the account in its cache (PostgreSQL), so the change must reach it to be refused. */
  async function cachedOnB(user: LoggedInUser): Promise<void> {
    await me(b.url, user).expect(200);
    if (onPostgres) expect(cacheOfB.get(user.id)).toBeDefined();
  }
  /** On PostgreSQL, waits for B to have been told of the change (the trigger's notification). */
  async function toldToB(user: LoggedInUser): Promise<void> {
    if (onPostgres) {
      await eventually('B forgets the account', async () => !cacheOfB.get(user.id), 5_000, 10);
    }
  }

  it('caches accounts on PostgreSQL only while the listener listens', () => {
    expect(cacheOfB.stamp() !== undefined).toBe(onPostgres);
    expect(a.app.get(ActiveUserCache).stamp() !== undefined).toBe(onPostgres);
  });

  it('refuses on B an account an admin disabled through A', async () => {
    const user = await registerAndLogin(a.url);
    await cachedOnB(user);
    await request(a.url)
      .patch(`/api/admin/users/${user.id}`)
      .set(as(admin))
      .send({ is_active: false })
      .expect(200);
    // A applies it from its next request on, without waiting for the notification.
    expect((await me(a.url, user)).status).toBe(403);
    await toldToB(user);
    const refused = await me(b.url, user);
    expect(refused.status).toBe(403);
    expect(refused.body).toEqual({ detail: 'Account is disabled' });
  });

  it('refuses an account disabled in SQL, and serves it again once enabled', async () => {
    const user = await registerAndLogin(a.url);
    await cachedOnB(user);
    await db.query(
      `UPDATE users SET is_active = ${onPostgres ? 'false' : '0'} WHERE id = ${onPostgres ? '$1' : '?'}`,
      [user.id],
    );
    await toldToB(user);
    expect((await me(b.url, user)).status).toBe(403);
    await db.query(
      `UPDATE users SET is_active = ${onPostgres ? 'true' : '1'} WHERE id = ${onPostgres ? '$1' : '?'}`,
      [user.id],
    );
    await me(b.url, user).expect(200);
  });

  it('takes the admin role away on B when it is revoked in SQL', async () => {
    const user = await registerAndLogin(a.url);
    await db.query(`UPDATE users SET role = 'admin' WHERE id = ${onPostgres ? '$1' : '?'}`, [
      user.id,
    ]);
    await request(b.url).get('/api/admin/users').set(as(user)).expect(200);
    await db.query(`UPDATE users SET role = 'user' WHERE id = ${onPostgres ? '$1' : '?'}`, [
      user.id,
    ]);
    await toldToB(user);
    await request(b.url).get('/api/admin/users').set(as(user)).expect(403);
  });

  it('refuses on B the token of an account deleted through A', async () => {
    const user = await registerAndLogin(a.url);
    await cachedOnB(user);
    await request(a.url).delete('/api/users/me').set(as(user)).expect(204);
    await toldToB(user);
    const refused = await me(b.url, user);
    expect(refused.status).toBe(401);
    expect(refused.body).toEqual({ detail: 'Invalid access token' });
  });

  const onPostgresOnly = onPostgres ? it : it.skip;

  onPostgresOnly(
    'keeps the account over a change of a column the check does not read',
    async () => {
      // The trigger fires on the columns an access token's check reads; a new password is not one.
      const user = await registerAndLogin(a.url);
      await cachedOnB(user);
      await db.query("UPDATE users SET password_hash = 'x' WHERE id = $1", [user.id]);
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(cacheOfB.get(user.id)).toBeDefined();
    },
  );

  onPostgresOnly('closes the cache when its listener is cut off, and opens it again', async () => {
    const user = await registerAndLogin(a.url);
    await cachedOnB(user);
    const logs = expectedLogs('warn');
    // Both instances listen on this database; cut every listener off.
    await db.query(
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
        WHERE datname = current_database() AND application_name = $1`,
      [USER_CHANGES_APPLICATION_NAME],
    );
    await eventually('B closes its cache', async () => cacheOfB.stamp() === undefined, 5_000, 10);
    expect(cacheOfB.get(user.id)).toBeUndefined();
    // Closed, B reads the database: a change made now is seen at once.
    await db.query('UPDATE users SET is_active = false WHERE id = $1', [user.id]);
    expect((await me(b.url, user)).status).toBe(403);
    await db.query('UPDATE users SET is_active = true WHERE id = $1', [user.id]);
    await eventually('B listens again', async () => cacheOfB.stamp() !== undefined, 5_000, 10);
    logs.restore();
    expect(logs.messages).toContain(
      'Lost the listener of account changes; every request reads its account until it is back',
    );
    await cachedOnB(user);
  });

  onPostgresOnly(
    'caches nothing on a schema without the trigger; the migration reverts',
    async () => {
      const runner = db.createQueryRunner();
      const migration = new UserChangeNotifications1766700000000();
      const logs = expectedLogs('warn');
      let c: SecondInstance | undefined;
      try {
        await migration.down(runner);
        c = await startSecondInstance(a);
        expect(c.app.get(ActiveUserCache).stamp()).toBeUndefined();
        expect(logs.messages.join('\n')).toContain('users trigger users_changed_notify is missing');
        const user = await registerAndLogin(a.url);
        await me(c.url, user).expect(200);
        expect(c.app.get(ActiveUserCache).get(user.id)).toBeUndefined();
      } finally {
        logs.restore();
        await c?.app.close();
        await migration.up(runner);
        await runner.release();
      }
      // Back in place: B is told of changes again.
      const user = await registerAndLogin(a.url);
      await cachedOnB(user);
      await db.query('UPDATE users SET is_active = false WHERE id = $1', [user.id]);
      await toldToB(user);
      expect((await me(b.url, user)).status).toBe(403);
    },
  );

  // Last: it empties the users table.
  it('refuses every token after the users table is truncated', async () => {
    const user = await registerAndLogin(a.url);
    await cachedOnB(user);
    await db.query(onPostgres ? 'TRUNCATE users CASCADE' : 'DELETE FROM users');
    if (onPostgres) {
      await eventually('B forgets every account', async () => !cacheOfB.get(user.id), 5_000, 10);
    }
    expect((await me(b.url, user)).status).toBe(401);
    expect((await me(b.url, admin)).status).toBe(401);
  });
});
