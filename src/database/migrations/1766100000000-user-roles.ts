import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Roles (`user` | `admin`) replace the unused `is_admin` flag, and per-user overrides of the chat
 * quotas (null: the configured QUOTA__* default). Plain ALTER TABLE on both databases: SQLite
 * (≥ 3.35) drops a column in place, so `users` is never rebuilt and nothing cascades.
 */
export class UserRoles1766100000000 implements MigrationInterface {
  name = 'UserRoles1766100000000';

  async up(q: QueryRunner): Promise<void> {
    const isPostgres = q.connection.driver.options.type === 'postgres';
    const yes = isPostgres ? 'true' : '1';
    await q.query("ALTER TABLE users ADD COLUMN role varchar(16) NOT NULL DEFAULT 'user'");
    await q.query(`UPDATE users SET role = 'admin' WHERE is_admin = ${yes}`);
    await q.query('ALTER TABLE users DROP COLUMN is_admin');
    await q.query('ALTER TABLE users ADD COLUMN requests_per_minute_limit integer');
    await q.query('ALTER TABLE users ADD COLUMN tokens_per_day_limit integer');
  }

  async down(q: QueryRunner): Promise<void> {
    const isPostgres = q.connection.driver.options.type === 'postgres';
    const falsy = isPostgres ? 'false' : '0';
    const yes = isPostgres ? 'true' : '1';
    await q.query('ALTER TABLE users DROP COLUMN tokens_per_day_limit');
    await q.query('ALTER TABLE users DROP COLUMN requests_per_minute_limit');
    await q.query(`ALTER TABLE users ADD COLUMN is_admin boolean NOT NULL DEFAULT ${falsy}`);
    await q.query(`UPDATE users SET is_admin = ${yes} WHERE role = 'admin'`);
    await q.query('ALTER TABLE users DROP COLUMN role');
  }
}
