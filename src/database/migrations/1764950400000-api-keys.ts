import { MigrationInterface, QueryRunner, Table, TableForeignKey } from 'typeorm';

/** Personal API keys (issue 14): one row per live key, deleted with its user. */
export class ApiKeys1764950400000 implements MigrationInterface {
  name = 'ApiKeys1764950400000';

  async up(q: QueryRunner): Promise<void> {
    const isPostgres = q.connection.driver.options.type === 'postgres';
    const timestamp = isPostgres ? 'timestamp' : 'datetime';
    await q.createTable(
      new Table({
        name: 'api_keys',
        columns: [
          { name: 'id', type: 'varchar', length: '36', isPrimary: true },
          { name: 'user_id', type: 'varchar', length: '36' },
          { name: 'name', type: 'varchar', length: '100' },
          { name: 'prefix', type: 'varchar', length: '16', isUnique: true },
          { name: 'key_hash', type: 'varchar', length: '64' },
          { name: 'scopes', type: 'varchar', length: '100' },
          { name: 'rate_limit_per_minute', type: 'integer', isNullable: true },
          {
            name: 'created_at',
            type: timestamp,
            default: isPostgres ? 'now()' : "datetime('now')",
          },
          { name: 'expires_at', type: timestamp, isNullable: true },
          { name: 'last_used_at', type: timestamp, isNullable: true },
        ],
        foreignKeys: [
          new TableForeignKey({
            columnNames: ['user_id'],
            referencedTableName: 'users',
            referencedColumnNames: ['id'],
            onDelete: 'CASCADE',
          }),
        ],
        indices: [{ name: 'idx_api_keys_user', columnNames: ['user_id'] }],
      }),
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.dropTable('api_keys');
  }
}
