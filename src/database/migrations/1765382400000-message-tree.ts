import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The message tree: every message gets a `parent_id` and every session an `active_leaf_id`.
 * Sessions written before it were flat lists, so each becomes one chain in `seq` order (each
 * message's parent is the one before it) whose active leaf is its newest message. Plain SQL that
 * runs unchanged on SQLite and PostgreSQL; existing rows are updated in place, never copied.
 */
export class MessageTree1765382400000 implements MigrationInterface {
  name = 'MessageTree1765382400000';

  async up(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE chat_messages ADD COLUMN parent_id varchar(36)');
    await q.query('ALTER TABLE chat_sessions ADD COLUMN active_leaf_id varchar(36)');
    // Both subqueries are range scans of the unique (session_id, seq) index.
    await q.query(
      'UPDATE chat_messages SET parent_id = (SELECT p.id FROM chat_messages p ' +
        'WHERE p.session_id = chat_messages.session_id AND p.seq < chat_messages.seq ' +
        'ORDER BY p.seq DESC LIMIT 1)',
    );
    await q.query(
      'UPDATE chat_sessions SET active_leaf_id = (SELECT m.id FROM chat_messages m ' +
        'WHERE m.session_id = chat_sessions.id ORDER BY m.seq DESC LIMIT 1)',
    );
    // Siblings of a message: the children of one parent within a session.
    await q.query(
      'CREATE INDEX idx_chat_messages_session_parent ON chat_messages (session_id, parent_id)',
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP INDEX idx_chat_messages_session_parent');
    await q.query('ALTER TABLE chat_sessions DROP COLUMN active_leaf_id');
    await q.query('ALTER TABLE chat_messages DROP COLUMN parent_id');
  }
}
