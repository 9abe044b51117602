/**
 * The provider simulator (libs/testing) as a benchmark process: it answers every request with
 * the same deterministic reply of `--tokens` words (`t1 t2 … tN`, one streamed chunk per word,
 * `--chunk-delay` ms apart, each wait varied by up to `--chunk-jitter` ms either way; 0 =
 * instantly), so a load script can check that no delta was dropped or reordered. Prints
 * `READY <url>` when listening.
 *
 *   npx ts-node -r tsconfig-paths/register bench/simulator-server.ts --port 4010 --tokens 12
 */
import { parseArgs } from 'node:util';
import { ProviderSimulator } from '@app/testing/simulator/provider-simulator';

/** The reply the simulator sends: `t1 t2 … tN` (each word is one stream chunk). */
export function simulatedReply(tokens: number): string {
  return Array.from({ length: tokens }, (_, i) => `t${i + 1}`).join(' ');
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: '0' },
      'chunk-delay': { type: 'string', default: '0' },
      'chunk-jitter': { type: 'string', default: '0' },
      tokens: { type: 'string', default: '12' },
    },
  });
  const tokens = Number(values.tokens);
  const simulator = new ProviderSimulator({
    reply: simulatedReply(tokens),
    chunkDelayMs: Number(values['chunk-delay']),
    chunkJitterMs: Number(values['chunk-jitter']),
  });
  const url = await simulator.start(Number(values.port), '127.0.0.1');
  // The simulator logs every request for tests; a benchmark makes millions: keep the log empty.
  setInterval(() => {
    simulator.requests.length = 0;
  }, 1_000).unref();
  console.log(`READY ${url}`);
  const shutdown = () => {
    void simulator.stop().then(() => process.exit(0));
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
}

if (require.main === module) void main();
