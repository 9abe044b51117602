import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The crash-recovery sweeper looks for `pending` replies on every instance every 10 s: a partial
 * index over just those rows (a handful at any time) keeps that a cheap look-up however large
 * the history grows. Same SQL on SQLite and PostgreSQL.
 */
export class PendingRepliesIndex1765036800000 implements MigrationInterface {
  name = 'PendingRepliesIndex1765036800000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(
      "CREATE INDEX idx_chat_messages_pending ON chat_messages (created_at) WHERE status = 'pending'",
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP INDEX idx_chat_messages_pending');
  }
}
