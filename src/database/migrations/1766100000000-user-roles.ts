import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Roles (`user` | `admin`), taken over from the unused `is_admin` flag, and per-user overrides of
 * the chat quotas (null: the configured QUOTA__* default). Additive, so the previous release keeps
 * working during a rolling restart: `is_admin` stays (no longer read or written by this release)
 * until a later migration drops it.
 */
export class UserRoles1766100000000 implements MigrationInterface {
  name = 'UserRoles1766100000000';

  async up(q: QueryRunner): Promise<void> {
    const yes = q.connection.driver.options.type === 'postgres' ? 'true' : '1';
    await q.query("ALTER TABLE users ADD COLUMN role varchar(16) NOT NULL DEFAULT 'user'");
    await q.query(`UPDATE users SET role = 'admin' WHERE is_admin = ${yes}`);
    await q.query('ALTER TABLE users ADD COLUMN requests_per_minute_limit integer');
    await q.query('ALTER TABLE users ADD COLUMN tokens_per_day_limit integer');
  }

  async down(q: QueryRunner): Promise<void> {
    // SQLite (≥ 3.35) drops a column in place: `users` is never rebuilt, nothing cascades.
    for (const column of ['tokens_per_day_limit', 'requests_per_minute_limit', 'role']) {
      await q.query(`ALTER TABLE users DROP COLUMN ${column}`);
    }
  }
}
