import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * PostgreSQL only: a NOTIFY on `chatbot_users_changed` for every change of an account's email,
 * role or activation, every deleted account (payload: its id) and a truncation (payload `*`),
 * sent at commit by whoever makes the change. UserChangeListener forgets those accounts in
 * ActiveUserCache on every instance. SQLite has no such channel; its instance reads each request's
 * account and needs nothing here.
 */
export class UserChangeNotifications1766700000000 implements MigrationInterface {
  name = 'UserChangeNotifications1766700000000';

  async up(q: QueryRunner): Promise<void> {
    if (q.connection.driver.options.type !== 'postgres') return;
    await q.query(`
      CREATE FUNCTION notify_users_changed() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF TG_OP = 'TRUNCATE' THEN
          PERFORM pg_notify('chatbot_users_changed', '*');
        ELSE
          PERFORM pg_notify('chatbot_users_changed', OLD.id);
        END IF;
        RETURN NULL;
      END $$`);
    await q.query(`
      CREATE TRIGGER users_changed_notify
      AFTER UPDATE OF id, email, role, is_active OR DELETE ON users
      FOR EACH ROW EXECUTE FUNCTION notify_users_changed()`);
    await q.query(`
      CREATE TRIGGER users_truncated_notify
      AFTER TRUNCATE ON users
      FOR EACH STATEMENT EXECUTE FUNCTION notify_users_changed()`);
  }

  async down(q: QueryRunner): Promise<void> {
    if (q.connection.driver.options.type !== 'postgres') return;
    await q.query('DROP TRIGGER users_truncated_notify ON users');
    await q.query('DROP TRIGGER users_changed_notify ON users');
    await q.query('DROP FUNCTION notify_users_changed()');
  }
}
