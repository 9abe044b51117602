/* eslint-disable no-console -- a command-line tool: its output is for the terminal. */
import { ProviderSimulator } from './provider-simulator';

/**
 * `npm run simulator`: the provider simulator as a standalone server (PORT, default 4010), so
 * the app can run against it without any real provider account.
 */
async function main(): Promise<void> {
  const port = Number(process.env.PORT ?? 4010);
  const delay = Number(process.env.SIMULATOR_CHUNK_DELAY_MS ?? 30);
  const simulator = new ProviderSimulator({ chunkDelayMs: delay });
  const url = await simulator.start(port, process.env.HOST ?? '127.0.0.1');
  console.log(`Provider simulator listening on ${url}`);
  console.log('  OpenAI-compatible: POST /v1/chat/completions (JSON and stream: true)');
  console.log(
    '  Gemini:            POST /v1beta/models/{model}:generateContent | :streamGenerateContent?alt=sse',
  );
  console.log('  Anthropic:         POST /v1/messages (JSON and stream: true)');
  console.log('Point the app at it, e.g.:');
  console.log(`  AI_SERVICES__GROQ_API_KEY=sim-key AI_SERVICES__GROQ_BASE_URL=${url}/v1`);
  console.log(
    `  AI_SERVICES__OPEN_ROUTER_API_KEY_1=sim-key AI_SERVICES__OPEN_ROUTER_BASE_URL=${url}/api/v1`,
  );
  console.log(`  AI_SERVICES__GEMINI_API_KEY=sim-key AI_SERVICES__GEMINI_BASE_URL=${url}`);
  console.log(`  AI_SERVICES__ANTHROPIC_API_KEY=sim-key AI_SERVICES__ANTHROPIC_BASE_URL=${url}`);
  const shutdown = () => {
    void simulator.stop().then(() => process.exit(0));
  };
  process.on('SIGINT', shutdown);
  process.on('SIGTERM', shutdown);
}

void main();
