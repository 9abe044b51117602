import { MigrationInterface, QueryRunner } from 'typeorm';

/** A user's rating of a reply (`up`/`down`) and an optional comment; null when not rated. */
export class MessageFeedback1765468800000 implements MigrationInterface {
  name = 'MessageFeedback1765468800000';

  async up(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE chat_messages ADD COLUMN feedback_rating varchar(8)');
    await q.query('ALTER TABLE chat_messages ADD COLUMN feedback_comment text');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE chat_messages DROP COLUMN feedback_comment');
    await q.query('ALTER TABLE chat_messages DROP COLUMN feedback_rating');
  }
}
