/**
 * The raw bcrypt ceiling of this machine: async `bcrypt.compare` (libuv's thread pool, as the app
 * uses it) at `--rounds`, `--concurrency` at a time, for `--seconds`. Runs as its own process so
 * it has the whole machine, like the app does. Prints one JSON line: {rounds, compares, seconds, rate}.
 */
import { parseArgs } from 'node:util';
import * as bcrypt from 'bcrypt';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      rounds: { type: 'string', default: '12' },
      concurrency: { type: 'string', default: '16' },
      seconds: { type: 'string', default: '5' },
    },
  });
  const rounds = Number(values.rounds);
  const seconds = Number(values.seconds);
  // The app pre-hashes passwords to 44 characters (SHA-256, base64): compare the same length.
  const password = 'x'.repeat(44);
  const hash = await bcrypt.hash(password, rounds);
  await bcrypt.compare(password, hash); // warm the thread pool
  let compares = 0;
  const started = process.hrtime.bigint();
  const deadline = Date.now() + seconds * 1000;
  const worker = async () => {
    while (Date.now() < deadline) {
      if (!(await bcrypt.compare(password, hash))) throw new Error('bcrypt mismatch');
      compares++;
    }
  };
  await Promise.all(Array.from({ length: Number(values.concurrency) }, worker));
  const elapsed = Number(process.hrtime.bigint() - started) / 1e9;
  console.log(JSON.stringify({ rounds, compares, seconds: elapsed, rate: compares / elapsed }));
}

void main();
