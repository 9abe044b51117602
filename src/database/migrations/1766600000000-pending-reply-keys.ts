import { MigrationInterface, QueryRunner, Table } from 'typeorm';

/**
 * `pending_reply_keys`: the API key a reply in the making was requested with, so the sweeper can
 * charge the key's daily token quota for a reply its instance never finished.
 */
export class PendingReplyKeys1766600000000 implements MigrationInterface {
  name = 'PendingReplyKeys1766600000000';

  async up(q: QueryRunner): Promise<void> {
    const isPostgres = q.connection.driver.options.type === 'postgres';
    await q.createTable(
      new Table({
        name: 'pending_reply_keys',
        columns: [
          { name: 'message_id', type: 'varchar', length: '36', isPrimary: true },
          { name: 'api_key_id', type: 'varchar', length: '36' },
          {
            name: 'created_at',
            type: isPostgres ? 'timestamp' : 'datetime',
            default: isPostgres ? 'now()' : "datetime('now')",
          },
        ],
        foreignKeys: [
          {
            columnNames: ['api_key_id'],
            referencedTableName: 'api_keys',
            referencedColumnNames: ['id'],
            onDelete: 'CASCADE',
          },
        ],
        indices: [{ name: 'idx_pending_reply_keys_key', columnNames: ['api_key_id'] }],
      }),
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.dropTable('pending_reply_keys');
  }
}
