/**
 * CPU per API-key turn of the pending_reply_keys bookkeeping (one row remembered when the reply
 * starts, deleted when its tokens are charged): TypeORM's `insert` + `delete` (as before) against
 * PendingReplyKeys' plain statements, on the real schema (SQLite file, the app's migrations),
 * interleaved in blocks so drifting load on a shared machine hits both alike.
 *
 *   npx ts-node --transpile-only -r tsconfig-paths/register bench/pending-reply-keys-cost.ts [--turns 5000] [--blocks 10]
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { DataSource } from 'typeorm';
import { AppConfig, buildDataSourceOptions } from '@app/config';
import { PendingReplyKey } from '../src/chat/generations/pending-reply-key.entity';
import { PendingReplyKeys } from '../src/chat/generations/pending-reply-keys';
import { median, round } from './lib/stats';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      turns: { type: 'string', default: '5000' },
      blocks: { type: 'string', default: '10' },
    },
  });
  const config = AppConfig.fromEnv({
    SECRET_KEY: 'k3Jq9vX2mW8pL5tR7yB4nC6dF1gH0sZa',
    DATABASE_URL: `sqlite://${join(mkdtempSync(join(tmpdir(), 'pending-keys-')), 'bench.db')}`,
  });
  const db = await new DataSource(buildDataSourceOptions(config.database)).initialize();
  // The key the rows name: the foreign key's check costs both variants alike, the row is enough.
  await db.query('PRAGMA foreign_keys = OFF');
  const rows = db.getRepository(PendingReplyKey);
  const plain = new PendingReplyKeys(rows);
  const apiKeyId = randomUUID();
  const variants: Record<string, (messageId: string) => Promise<void>> = {
    typeorm: async (messageId) => {
      await rows.insert({ messageId, apiKeyId });
      await rows.delete({ messageId });
    },
    plain: async (messageId) => {
      await plain.remember(messageId, apiKeyId);
      await plain.forget(messageId);
    },
  };
  const perTurn: Record<string, number[]> = { typeorm: [], plain: [] };
  const turns = Number(values.turns);
  for (let block = 0; block <= Number(values.blocks); block++) {
    for (const name of block % 2 ? ['plain', 'typeorm'] : ['typeorm', 'plain']) {
      const start = process.cpuUsage();
      for (let i = 0; i < turns; i++) await variants[name](randomUUID());
      const used = process.cpuUsage(start);
      // Block 0 warms both up (JIT, statement caches) and is not counted.
      if (block > 0) perTurn[name].push((used.user + used.system) / 1000 / turns);
    }
  }
  await db.destroy();
  const typeorm = median(perTurn.typeorm);
  const plainMs = median(perTurn.plain);
  console.log(
    `CPU ms per API-key turn (remember + forget), median of ${values.blocks} blocks of ${turns}: ` +
      `TypeORM ${round(typeorm, 4)}, plain SQL ${round(plainMs, 4)} (×${round(plainMs / typeorm, 2)}, ` +
      `${round(typeorm - plainMs, 4)} ms saved)`,
  );
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
