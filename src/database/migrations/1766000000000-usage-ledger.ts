import { MigrationInterface, QueryRunner, Table } from 'typeorm';

/**
 * The usage ledger (one row per provider attempt), its daily roll-up per user × model (rows past
 * USAGE__RETENTION_DAYS end there), and per-user budget overrides (deleted with the user).
 */
export class UsageLedger1766000000000 implements MigrationInterface {
  name = 'UsageLedger1766000000000';

  async up(q: QueryRunner): Promise<void> {
    const isPostgres = q.connection.driver.options.type === 'postgres';
    const timestamp = isPostgres ? 'timestamp' : 'datetime';
    const now = isPostgres ? 'now()' : "datetime('now')";
    const id = (name: string, nullable = true) => ({
      name,
      type: 'varchar',
      length: '36',
      isNullable: nullable,
    });
    await q.createTable(
      new Table({
        name: 'usage_records',
        columns: [
          {
            name: 'id',
            type: isPostgres ? 'bigint' : 'integer',
            isPrimary: true,
            isGenerated: true,
            generationStrategy: 'increment',
          },
          id('user_id', false),
          id('api_key_id'),
          id('session_id'),
          id('message_id'),
          { name: 'provider', type: 'varchar', length: '50' },
          { name: 'model', type: 'varchar', length: '200' },
          { name: 'key_alias', type: 'varchar', length: '60', isNullable: true },
          { name: 'prompt_tokens', type: 'integer' },
          { name: 'completion_tokens', type: 'integer' },
          { name: 'cached_tokens', type: 'integer' },
          { name: 'cost_micros', type: 'bigint', isNullable: true },
          { name: 'latency_ms', type: 'integer' },
          { name: 'ttft_ms', type: 'integer', isNullable: true },
          { name: 'status', type: 'varchar', length: '20' },
          { name: 'fallback_step', type: 'smallint' },
          { name: 'retry', type: 'smallint' },
          { name: 'created_at', type: timestamp, default: now },
        ],
        indices: [
          { name: 'idx_usage_records_user_created', columnNames: ['user_id', 'created_at'] },
          { name: 'idx_usage_records_created', columnNames: ['created_at'] },
        ],
      }),
    );
    await q.createTable(
      new Table({
        name: 'usage_daily',
        columns: [
          { name: 'day', type: 'varchar', length: '10', isPrimary: true },
          { ...id('user_id', false), isPrimary: true },
          { name: 'model', type: 'varchar', length: '200', isPrimary: true },
          { name: 'provider', type: 'varchar', length: '50' },
          { name: 'requests', type: 'integer' },
          { name: 'failed_requests', type: 'integer' },
          { name: 'prompt_tokens', type: 'bigint' },
          { name: 'completion_tokens', type: 'bigint' },
          { name: 'cached_tokens', type: 'bigint' },
          { name: 'cost_micros', type: 'bigint' },
          { name: 'cost_unknown_requests', type: 'integer' },
        ],
        indices: [{ name: 'idx_usage_daily_user_day', columnNames: ['user_id', 'day'] }],
      }),
    );
    await q.createTable(
      new Table({
        name: 'budget_overrides',
        columns: [
          { ...id('user_id', false), isPrimary: true },
          { name: 'usd_micros_per_day', type: 'bigint', isNullable: true },
          { name: 'usd_micros_per_month', type: 'bigint', isNullable: true },
          { name: 'updated_at', type: timestamp, default: now },
        ],
        // Deleted with its user.
        foreignKeys: [
          {
            onDelete: 'CASCADE',
            columnNames: ['user_id'],
            referencedColumnNames: ['id'],
            referencedTableName: 'users',
          },
        ],
      }),
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.dropTable('budget_overrides');
    await q.dropTable('usage_daily');
    await q.dropTable('usage_records');
  }
}
