import type { BenchContext } from './profile';

/** A database that was not benchmarked (Postgres without TEST_POSTGRES_URL) or whose run failed. */
export interface SkippedDatabase {
  database: 'sqlite' | 'postgres';
  skipped: string;
}

export function isSkipped<T extends object>(
  result: T | SkippedDatabase,
): result is SkippedDatabase {
  return 'skipped' in result;
}

/**
 * Runs a benchmark once per database. Postgres needs TEST_POSTGRES_URL (as the test suites do);
 * without it that database is skipped with the reason in the report. A failure on one database
 * is recorded and the next one still runs; if every database failed, the benchmark fails.
 */
export async function forEachDatabase<T extends object>(
  ctx: BenchContext,
  databases: ('sqlite' | 'postgres')[],
  run: (database: 'sqlite' | 'postgres') => Promise<T>,
): Promise<(T | SkippedDatabase)[]> {
  const results: (T | SkippedDatabase)[] = [];
  const failures: string[] = [];
  for (const database of databases) {
    if (database === 'postgres' && !process.env.TEST_POSTGRES_URL) {
      const skipped =
        'TEST_POSTGRES_URL is not set (eval "$(bash scripts/test-services.sh)" starts Postgres and sets it)';
      ctx.log(`postgres skipped: ${skipped}`);
      results.push({ database, skipped });
      continue;
    }
    try {
      results.push(await run(database));
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      ctx.log(`${database} failed: ${message}`);
      failures.push(`${database}: ${message}`);
      results.push({ database, skipped: `failed: ${message.split('\n')[0]}` });
    }
  }
  if (failures.length && failures.length === results.length) throw new Error(failures.join('\n'));
  return results;
}
