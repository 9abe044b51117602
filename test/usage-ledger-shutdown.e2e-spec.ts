import request from 'supertest';
import { DataSource } from 'typeorm';
import { AppConfig, buildDataSourceOptions } from '@app/config';
import { baseTestEnv, describeE2e, registerAndLogin, startTestApp } from '@app/testing';
import { UsageLedger } from '../src/usage/usage-ledger';

/** The ledger writes in batches off the request path, and loses nothing on a graceful shutdown. */
describeE2e('usage ledger batching and shutdown', () => {
  it('buffers rows past the reply and writes them all when the app closes', async () => {
    const t = await startTestApp({ USAGE__FLUSH_MS: '60000', USAGE__FLUSH_ROWS: '10000' });
    try {
      const user = await registerAndLogin(t.url);
      for (let i = 0; i < 3; i++) {
        await request(t.url)
          .post('/api/chat')
          .set('Authorization', `Bearer ${user.token}`)
          .send({ message: `buffered ${i}` })
          .expect(200);
      }
      // Replies are out; their rows wait for the next batch.
      expect(t.app.get(UsageLedger).pending).toBe(3);
      const live = t.app.get(DataSource);
      expect(await live.query('SELECT id FROM usage_records')).toEqual([]);

      await t.app.close();
      const config = AppConfig.fromEnv({ ...baseTestEnv(), DATABASE_URL: t.database.url });
      const db = new DataSource({
        ...buildDataSourceOptions(config.database),
        migrationsRun: false,
      });
      await db.initialize();
      try {
        const rows = await db.query('SELECT user_id, status FROM usage_records');
        expect(rows).toEqual(Array(3).fill({ user_id: user.id, status: 'success' }));
      } finally {
        await db.destroy();
      }
    } finally {
      await t.database.drop();
    }
  });

  it('writes a batch at once when USAGE__FLUSH_ROWS rows are buffered', async () => {
    const t = await startTestApp({ USAGE__FLUSH_MS: '60000', USAGE__FLUSH_ROWS: '2' });
    try {
      const user = await registerAndLogin(t.url);
      const chat = (message: string) =>
        request(t.url)
          .post('/api/chat')
          .set('Authorization', `Bearer ${user.token}`)
          .send({ message })
          .expect(200);
      await chat('one');
      await chat('two');
      const db = t.app.get(DataSource);
      const deadline = Date.now() + 5000;
      let rows: unknown[] = [];
      while (rows.length < 2 && Date.now() < deadline) {
        rows = await db.query('SELECT id FROM usage_records');
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      expect(rows).toHaveLength(2);
    } finally {
      await t.close();
    }
  });
});
