import {
  MigrationInterface,
  QueryRunner,
  Table,
  TableColumnOptions,
  TableForeignKey,
} from 'typeorm';

/**
 * The first schema, written with TypeORM's portable Table API so the same migration runs on
 * SQLite and PostgreSQL. Timestamp columns use each driver's native type for `Date`.
 */
export class InitialSchema1764086400000 implements MigrationInterface {
  name = 'InitialSchema1764086400000';

  async up(q: QueryRunner): Promise<void> {
    const isPostgres = q.connection.driver.options.type === 'postgres';
    const timestamp = isPostgres ? 'timestamp' : 'datetime';
    const now = isPostgres ? 'now()' : "datetime('now')";
    const id: TableColumnOptions = { name: 'id', type: 'varchar', length: '36', isPrimary: true };
    const userId: TableColumnOptions = { name: 'user_id', type: 'varchar', length: '36' };
    const createdAt: TableColumnOptions = { name: 'created_at', type: timestamp, default: now };
    const updatedAt: TableColumnOptions = { name: 'updated_at', type: timestamp, default: now };
    const at = (name: string, nullable = true): TableColumnOptions => ({
      name,
      type: timestamp,
      isNullable: nullable,
    });
    const cascadeToUsers = new TableForeignKey({
      columnNames: ['user_id'],
      referencedTableName: 'users',
      referencedColumnNames: ['id'],
      onDelete: 'CASCADE',
    });

    await q.createTable(
      new Table({
        name: 'users',
        columns: [
          id,
          { name: 'email', type: 'varchar', length: '254', isUnique: true },
          { name: 'password_hash', type: 'varchar', length: '100' },
          { name: 'is_active', type: 'boolean', default: true },
          { name: 'email_verified', type: 'boolean', default: false },
          { name: 'is_admin', type: 'boolean', default: false },
          createdAt,
          updatedAt,
        ],
      }),
    );

    await q.createTable(
      new Table({
        name: 'refresh_tokens',
        columns: [
          id,
          userId,
          { name: 'family_id', type: 'varchar', length: '36' },
          { name: 'token_hash', type: 'varchar', length: '64', isUnique: true },
          at('expires_at', false),
          at('used_at'),
          at('revoked_at'),
          createdAt,
        ],
        foreignKeys: [cascadeToUsers],
        indices: [
          { name: 'idx_refresh_tokens_user', columnNames: ['user_id'] },
          { name: 'idx_refresh_tokens_family', columnNames: ['family_id'] },
        ],
      }),
    );

    await q.createTable(
      new Table({
        name: 'email_tokens',
        columns: [
          id,
          userId,
          { name: 'purpose', type: 'varchar', length: '20' },
          { name: 'token_hash', type: 'varchar', length: '64', isUnique: true },
          at('expires_at', false),
          at('used_at'),
          createdAt,
        ],
        foreignKeys: [cascadeToUsers],
        indices: [{ name: 'idx_email_tokens_user', columnNames: ['user_id'] }],
      }),
    );

    await q.createTable(
      new Table({
        name: 'chat_sessions',
        columns: [
          id,
          userId,
          { name: 'title', type: 'varchar', length: '200', isNullable: true },
          { name: 'message_count', type: 'integer', default: 0 },
          { name: 'last_message', type: 'text', isNullable: true },
          createdAt,
          updatedAt,
        ],
        foreignKeys: [cascadeToUsers],
        // Serves "a user's sessions, newest first" as an index range scan at any page depth.
        indices: [
          { name: 'idx_chat_sessions_user_updated', columnNames: ['user_id', 'updated_at', 'id'] },
        ],
      }),
    );

    await q.createTable(
      new Table({
        name: 'chat_messages',
        columns: [
          id,
          { name: 'session_id', type: 'varchar', length: '36' },
          { name: 'seq', type: 'integer' },
          { name: 'role', type: 'varchar', length: '16' },
          { name: 'content', type: 'text' },
          { name: 'status', type: 'varchar', length: '16', default: "'complete'" },
          { name: 'model', type: 'varchar', length: '200', isNullable: true },
          { name: 'prompt_tokens', type: 'integer', isNullable: true },
          { name: 'completion_tokens', type: 'integer', isNullable: true },
          { name: 'error', type: 'text', isNullable: true },
          createdAt,
        ],
        foreignKeys: [
          new TableForeignKey({
            columnNames: ['session_id'],
            referencedTableName: 'chat_sessions',
            referencedColumnNames: ['id'],
            onDelete: 'CASCADE',
          }),
        ],
        indices: [
          {
            name: 'idx_chat_messages_session_seq',
            columnNames: ['session_id', 'seq'],
            isUnique: true,
          },
        ],
      }),
    );
  }

  async down(q: QueryRunner): Promise<void> {
    for (const table of [
      'chat_messages',
      'chat_sessions',
      'email_tokens',
      'refresh_tokens',
      'users',
    ]) {
      await q.dropTable(table);
    }
  }
}
