import { MigrationInterface, QueryRunner } from 'typeorm';

/** A personal API key's own daily token quota (null: the deployment default). */
export class ApiKeyTokenQuota1766300000000 implements MigrationInterface {
  name = 'ApiKeyTokenQuota1766300000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE api_keys ADD COLUMN tokens_per_day integer');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE api_keys DROP COLUMN tokens_per_day');
  }
}
