import { MigrationInterface, QueryRunner, Table } from 'typeorm';
import { createdDaySql, DAILY_FIGURES, rawSumsSql, rollUpSql } from '../../usage/usage-sql';

/**
 * The roll-ups become current on write: until now usage_daily held only rows past retention and
 * reports added the raw rows still kept. From now on the ledger adds every batch to usage_daily
 * and to usage_spans (the same figures over aligned spans of 2^level days, per user and per
 * model, for reports across every user) as it writes it, and reports read only those. Here the
 * raw rows still kept are added to usage_daily, and usage_spans is built from the complete
 * usage_daily, once. Run it with the instances of the previous release stopped (rows they write
 * after it would be missing from the roll-ups).
 */
export class UsageRollupsCurrent1766500000000 implements MigrationInterface {
  name = 'UsageRollupsCurrent1766500000000';

  async up(q: QueryRunner): Promise<void> {
    const figure = (name: string) => ({
      name,
      type: name.endsWith('requests') ? 'integer' : 'bigint',
    });
    await q.createTable(
      new Table({
        name: 'usage_spans',
        columns: [
          { name: 'level', type: 'smallint', isPrimary: true },
          { name: 'start_day', type: 'integer', isPrimary: true },
          { name: 'user_id', type: 'varchar', length: '36', isPrimary: true },
          { name: 'model', type: 'varchar', length: '200', isPrimary: true },
          { name: 'provider', type: 'varchar', length: '50' },
          ...DAILY_FIGURES.map(figure),
        ],
      }),
    );
    const [daily] = rollUpSql(q.connection, 'usage_records', '1 = 1');
    await q.query(daily);
    for (const sql of rollUpSql(q.connection, 'usage_daily', '1 = 1')) await q.query(sql);
  }

  /** Takes the raw rows back out of usage_daily: it holds only rolled-up (deleted) rows again. */
  async down(q: QueryRunner): Promise<void> {
    await q.dropTable('usage_spans');
    const day = createdDaySql(q.connection, 'created_at');
    const kept = `SELECT ${day} AS day, user_id, model, ${rawSumsSql()}
      FROM usage_records GROUP BY ${day}, user_id, model`;
    await q.query(
      `UPDATE usage_daily SET ${DAILY_FIGURES.map((f) => `${f} = usage_daily.${f} - kept.${f}`).join(', ')}
       FROM (${kept}) AS kept
       WHERE usage_daily.day = kept.day AND usage_daily.user_id = kept.user_id
         AND usage_daily.model = kept.model`,
    );
    await q.query('DELETE FROM usage_daily WHERE requests = 0');
  }
}
