import { MigrationInterface, QueryRunner, Table } from 'typeorm';

const APPEND_ONLY = 'audit_log is append-only';

/**
 * The audit log: who did what to which target, when and from which address. Append-only in the
 * database itself: triggers refuse UPDATE and DELETE (and TRUNCATE on Postgres), so not even a
 * bug in the application can rewrite it. No foreign key: entries outlive the accounts they name.
 */
export class AuditLog1766100100000 implements MigrationInterface {
  name = 'AuditLog1766100100000';

  async up(q: QueryRunner): Promise<void> {
    const isPostgres = q.connection.driver.options.type === 'postgres';
    await q.createTable(
      new Table({
        name: 'audit_log',
        columns: [
          { name: 'id', type: 'varchar', length: '36', isPrimary: true },
          { name: 'at', type: isPostgres ? 'timestamp' : 'datetime' },
          { name: 'actor_id', type: 'varchar', length: '36', isNullable: true },
          { name: 'actor_email', type: 'varchar', length: '254', isNullable: true },
          { name: 'action', type: 'varchar', length: '64' },
          { name: 'target', type: 'varchar', length: '300', isNullable: true },
          { name: 'details', type: 'text', isNullable: true },
          { name: 'ip', type: 'varchar', length: '64', isNullable: true },
        ],
        indices: [
          { name: 'idx_audit_log_at', columnNames: ['at', 'id'] },
          { name: 'idx_audit_log_actor', columnNames: ['actor_id', 'at'] },
          { name: 'idx_audit_log_action', columnNames: ['action', 'at'] },
        ],
      }),
    );
    if (isPostgres) {
      await q.query(
        'CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS ' +
          `$$ BEGIN RAISE EXCEPTION '${APPEND_ONLY}'; END $$`,
      );
      await q.query(
        'CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log ' +
          'FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()',
      );
      await q.query(
        'CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log ' +
          'FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()',
      );
    } else {
      for (const operation of ['UPDATE', 'DELETE']) {
        await q.query(
          `CREATE TRIGGER audit_log_no_${operation.toLowerCase()} BEFORE ${operation} ON audit_log ` +
            `BEGIN SELECT RAISE(ABORT, '${APPEND_ONLY}'); END`,
        );
      }
    }
  }

  async down(q: QueryRunner): Promise<void> {
    await q.dropTable('audit_log');
    if (q.connection.driver.options.type === 'postgres') {
      await q.query('DROP FUNCTION audit_log_append_only()');
    }
  }
}
