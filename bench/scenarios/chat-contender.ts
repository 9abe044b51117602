import { chatPoolTarget, ChatSessionPool, createApiKey, createUsers } from '../lib/app-client';
import { HttpClient, saturate } from '../lib/http-load';
import { createBenchDatabase, startApp, startSimulator } from '../lib/processes';
import { CHAT_REPLY_TOKENS } from './chat';
import type { V1Contender } from './v1-contender';

/**
 * A build of the app on `POST /api/chat` (JWT), kept running for every round of an A/B
 * (`bench/ab.ts --scenario chat-cpu`), with its own provider simulator and SQLite database. A
 * round is one saturation window; its figure is the app's CPU time per request, which the load
 * the other build and the host put on the cores does not inflate the way it inflates latency.
 * With `auth: 'api-key'` every request carries a personal API key (scope `chat`) instead of a JWT.
 */
export async function startChatContender(
  name: 'A' | 'B',
  entry: string,
  options: { seconds: number; connections: number; auth: 'jwt' | 'api-key' },
): Promise<V1Contender> {
  const sim = await startSimulator({ chunkDelayMs: 0, tokens: CHAT_REPLY_TOKENS });
  const db = await createBenchDatabase('sqlite');
  const app = await startApp({
    entry,
    databaseUrl: db.url,
    bcryptRounds: 4,
    simulatorUrl: sim.url,
  });
  const client = new HttpClient(app.url);
  const jwts = await createUsers(client, 16, `ab-chat-${name}-`);
  const tokens =
    options.auth === 'api-key'
      ? await Promise.all(jwts.map((jwt) => createApiKey(client, jwt, ['chat'])))
      : jwts;
  client.close();
  const target = chatPoolTarget(app.url, new ChatSessionPool(tokens, 5));
  return {
    name,
    round: async () => {
      const saturated = await saturate(target, {
        connections: options.connections,
        seconds: options.seconds,
        warmupSeconds: 1,
        cpu: app.proc,
      });
      return {
        chatRps: saturated.rps,
        chatCpuMs: saturated.cpuMsPerRequest ?? NaN,
        failed: saturated.failed,
      };
    },
  };
}
