import { MigrationInterface, QueryRunner, Table, TableColumn } from 'typeorm';

/**
 * Files: users' uploads (deleted with the user), the sessions that use them, and the references a
 * chat message keeps to its attachments (`chat_messages.attachments`, JSON text).
 */
export class Files1766200000000 implements MigrationInterface {
  name = 'Files1766200000000';

  async up(q: QueryRunner): Promise<void> {
    const isPostgres = q.connection.driver.options.type === 'postgres';
    await q.createTable(
      new Table({
        name: 'files',
        columns: [
          { name: 'id', type: 'varchar', length: '36', isPrimary: true },
          { name: 'user_id', type: 'varchar', length: '36' },
          { name: 'name', type: 'varchar', length: '255' },
          { name: 'media_type', type: 'varchar', length: '100' },
          { name: 'size_bytes', type: 'integer' },
          { name: 'storage_key', type: 'varchar', length: '200' },
          {
            name: 'created_at',
            type: isPostgres ? 'timestamp' : 'datetime',
            default: isPostgres ? 'now()' : "datetime('now')",
          },
        ],
        foreignKeys: [
          {
            columnNames: ['user_id'],
            referencedTableName: 'users',
            referencedColumnNames: ['id'],
            onDelete: 'CASCADE',
          },
        ],
        indices: [{ name: 'idx_files_user', columnNames: ['user_id', 'created_at'] }],
      }),
    );
    await q.createTable(
      new Table({
        name: 'file_uses',
        columns: [
          { name: 'file_id', type: 'varchar', length: '36', isPrimary: true },
          { name: 'session_id', type: 'varchar', length: '36', isPrimary: true },
        ],
        foreignKeys: [
          {
            columnNames: ['file_id'],
            referencedTableName: 'files',
            referencedColumnNames: ['id'],
            onDelete: 'CASCADE',
          },
        ],
        indices: [{ name: 'idx_file_uses_session', columnNames: ['session_id'] }],
      }),
    );
    await q.addColumn(
      'chat_messages',
      new TableColumn({ name: 'attachments', type: 'text', isNullable: true }),
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.dropColumn('chat_messages', 'attachments');
    await q.dropTable('file_uses');
    await q.dropTable('files');
  }
}
