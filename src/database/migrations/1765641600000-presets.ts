import { MigrationInterface, QueryRunner, Table } from 'typeorm';

/** Presets: a user's named chat settings (deleted with the user). */
export class Presets1765641600000 implements MigrationInterface {
  name = 'Presets1765641600000';

  async up(q: QueryRunner): Promise<void> {
    const isPostgres = q.connection.driver.options.type === 'postgres';
    const timestamp = isPostgres ? 'timestamp' : 'datetime';
    const now = isPostgres ? 'now()' : "datetime('now')";
    await q.createTable(
      new Table({
        name: 'presets',
        columns: [
          { name: 'id', type: 'varchar', length: '36', isPrimary: true },
          { name: 'user_id', type: 'varchar', length: '36' },
          { name: 'name', type: 'varchar', length: '100' },
          { name: 'system_prompt', type: 'text', isNullable: true },
          { name: 'model', type: 'varchar', length: '200', isNullable: true },
          { name: 'temperature', type: isPostgres ? 'double precision' : 'real', isNullable: true },
          { name: 'max_tokens', type: 'integer', isNullable: true },
          { name: 'created_at', type: timestamp, default: now },
          { name: 'updated_at', type: timestamp, default: now },
        ],
        foreignKeys: [
          {
            columnNames: ['user_id'],
            referencedTableName: 'users',
            referencedColumnNames: ['id'],
            onDelete: 'CASCADE',
          },
        ],
        indices: [{ name: 'idx_presets_user', columnNames: ['user_id', 'created_at'] }],
      }),
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.dropTable('presets');
  }
}
