import { chatPoolTarget, ChatSessionPool, createApiKey, createUsers } from '../lib/app-client';
import { type Contender, saturateContender, startContenderApp } from './v1-contender';

/**
 * A build of the app on `POST /api/chat` (JWT), kept running for every round of an A/B
 * (`bench/ab.ts --scenario chat-cpu`), with its own provider simulator and SQLite database. A
 * round is one saturation window; its figure is the app's CPU time per request, which a loaded
 * host inflates far less than latency (though not at all is too much to say: pair the rounds).
 * With `auth: 'api-key'` every request carries a personal API key (scope `chat`) instead of a JWT.
 */
export async function startChatContender(
  name: 'A' | 'B',
  entry: string,
  options: { seconds: number; connections: number; auth: 'jwt' | 'api-key' },
): Promise<Contender> {
  const { app, client } = await startContenderApp(entry);
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
      const saturated = await saturateContender(app, target, options);
      return {
        chatRps: saturated.rps,
        chatCpuMs: saturated.cpuMsPerRequest ?? NaN,
        failed: saturated.failed,
      };
    },
  };
}
