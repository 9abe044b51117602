import { MigrationInterface, QueryRunner } from 'typeorm';
import { createdDaySql, DAILY_FIGURES, rawSumsSql, rollUpRowsSql } from '../../usage/usage-sql';

/**
 * The daily roll-ups become current on write: until now usage_daily held only rows past
 * retention, and reports added the raw rows still kept. From now on the ledger adds every batch
 * to usage_daily as it writes it and reports read only usage_daily, so the raw rows still kept
 * are added to it here, once. Run it with the instances of the previous release stopped (rows
 * they write after it would be missing from the roll-ups).
 */
export class UsageRollupsCurrent1766500000000 implements MigrationInterface {
  name = 'UsageRollupsCurrent1766500000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(rollUpRowsSql(q.connection, '1 = 1'));
  }

  /** Takes the raw rows back out of usage_daily: it holds only rolled-up (deleted) rows again. */
  async down(q: QueryRunner): Promise<void> {
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
