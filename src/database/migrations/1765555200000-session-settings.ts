import { MigrationInterface, QueryRunner } from 'typeorm';

/** Per-conversation settings: system prompt, model, temperature, max_tokens (null: the default). */
export class SessionSettings1765555200000 implements MigrationInterface {
  name = 'SessionSettings1765555200000';

  async up(q: QueryRunner): Promise<void> {
    // SQLite's REAL is already an 8-byte float; Postgres' `real` would be 4 bytes (0.7 ≠ 0.7).
    const float = q.connection.driver.options.type === 'postgres' ? 'double precision' : 'real';
    await q.query('ALTER TABLE chat_sessions ADD COLUMN system_prompt text');
    await q.query('ALTER TABLE chat_sessions ADD COLUMN model varchar(200)');
    await q.query(`ALTER TABLE chat_sessions ADD COLUMN temperature ${float}`);
    await q.query('ALTER TABLE chat_sessions ADD COLUMN max_tokens integer');
  }

  async down(q: QueryRunner): Promise<void> {
    for (const column of ['max_tokens', 'temperature', 'model', 'system_prompt']) {
      await q.query(`ALTER TABLE chat_sessions DROP COLUMN ${column}`);
    }
  }
}
