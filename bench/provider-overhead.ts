/**
 * What the resilience layer costs per call: the same requests to the provider simulator, once
 * straight through the `openai` SDK and once through ProvidersService (registry, key pool,
 * breaker, timers, retry loop, adapter), interleaved in one run so both see the same machine.
 *
 *   npx ts-node -r tsconfig-paths/register bench/provider-overhead.ts
 *   BENCH_CALLS=5000 npx ts-node -r tsconfig-paths/register bench/provider-overhead.ts
 *
 * Logging is switched off for both sides (a log line per call is a deployment choice, not
 * the layer's cost). Not a test: it prints figures and exits.
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { Logger } from '@nestjs/common';
import OpenAI from 'openai';
import { AppConfig } from '@app/config';
import { ProviderSimulator } from '@app/testing';
import { ProviderRegistry } from '../src/providers/provider-registry';
import { ProvidersService } from '../src/providers/providers.service';
import { ResilientExecutor } from '../src/providers/resilience/resilient-executor';

const CALLS = Number(process.env.BENCH_CALLS ?? 2000);
const WARMUP = Math.min(200, Math.floor(CALLS / 5));
const MESSAGES = [{ role: 'user' as const, content: 'How long is a piece of string?' }];
const MODEL = 'llama-3.1-8b-instant';

type Sample = () => Promise<void>;

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function measure(pairs: [Sample, Sample], calls: number): Promise<[number[], number[]]> {
  const times: [number[], number[]] = [[], []];
  for (let i = 0; i < calls; i++) {
    // Alternate which side goes first so neither always runs on a warmer connection.
    const order = i % 2 === 0 ? [0, 1] : [1, 0];
    for (const side of order) {
      const started = performance.now();
      await pairs[side]();
      times[side].push(performance.now() - started);
    }
  }
  return times;
}

function report(label: string, [direct, layered]: [number[], number[]]): void {
  const d = [...direct].sort((a, b) => a - b);
  const l = [...layered].sort((a, b) => a - b);
  const row = (name: string, s: number[]) =>
    `  ${name.padEnd(22)} p50 ${percentile(s, 50).toFixed(3).padStart(7)} ms   p99 ${percentile(
      s,
      99,
    )
      .toFixed(3)
      .padStart(7)} ms`;
  console.log(`${label} (${direct.length} calls each)`);
  console.log(row('openai SDK directly', d));
  console.log(row('ProvidersService', l));
  const p50 = percentile(l, 50) - percentile(d, 50);
  const p99 = percentile(l, 99) - percentile(d, 99);
  console.log(
    `  added latency          p50 ${p50.toFixed(3).padStart(7)} ms   p99 ${p99.toFixed(3).padStart(7)} ms` +
      `   ratio p50 ${(percentile(l, 50) / percentile(d, 50)).toFixed(3)}x  p99 ${(percentile(l, 99) / percentile(d, 99)).toFixed(3)}x`,
  );
}

async function main(): Promise<void> {
  Logger.overrideLogger(false);
  const simulator = new ProviderSimulator();
  const url = await simulator.start();
  const base = `${url}/openai/v1`;
  const config = AppConfig.fromEnv({
    SECRET_KEY: randomBytes(32).toString('hex'),
    AI_SERVICES__GROQ_API_KEY: 'bench-key',
    AI_SERVICES__GROQ_BASE_URL: base,
  });
  const registry = new ProviderRegistry(config);
  const providers = new ProvidersService(registry, new ResilientExecutor(config, registry));
  const direct = new OpenAI({ apiKey: 'bench-key', baseURL: base, maxRetries: 0, logLevel: 'off' });

  const directComplete: Sample = async () => {
    await direct.chat.completions.create({ model: MODEL, messages: MESSAGES });
  };
  const layeredComplete: Sample = async () => {
    await providers.complete({ model: `groq/${MODEL}`, messages: MESSAGES });
  };
  const directStream: Sample = async () => {
    const stream = await direct.chat.completions.create({
      model: MODEL,
      messages: MESSAGES,
      stream: true,
      stream_options: { include_usage: true },
    });
    for await (const chunk of stream) void chunk;
  };
  const layeredStream: Sample = async () => {
    for await (const event of providers.stream({ model: `groq/${MODEL}`, messages: MESSAGES })) {
      void event;
    }
  };

  console.log(`Provider overhead benchmark — Node ${process.version}, simulator at ${url}`);
  await measure([directComplete, layeredComplete], WARMUP);
  await measure([directStream, layeredStream], WARMUP);
  simulator.reset();
  report('complete() — JSON reply', await measure([directComplete, layeredComplete], CALLS));
  report(
    'stream() — SSE reply, 8 chunks + usage',
    await measure([directStream, layeredStream], CALLS),
  );
  await simulator.stop();
}

void main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
