/**
 * Summarises a V8 CPU profile written by `node --cpu-prof` (e.g. `npm run bench -- --only chat
 * --cpu-prof`): where the app process spent its time, by function (self and total) and by package.
 *
 *   npx ts-node bench/profile-summary.ts /tmp/chatbot-bench-profiles/CPU.….cpuprofile [--top 40]
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** `pkg` for node_modules files, the path under the repo for ours, `node:…` for internals. */
function owner(url: string): string {
  if (!url) return '(native/V8)';
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (nm) return nm[1];
  if (url.startsWith('node:')) return url;
  const ours = /\/(src|libs|config)\/(.*)$/.exec(url);
  return ours ? `${ours[1]}/${ours[2]}` : url;
}

/** Broad buckets for "where does a request's CPU go". */
const CATEGORIES: [string, RegExp][] = [
  ['database (TypeORM + driver)', /^(typeorm|better-sqlite3|pg|pg-[\w-]+|postgres-[\w-]+)$/],
  [
    'provider SDK (openai + fetch/undici + web streams)',
    /^(openai|node:internal\/deps\/undici\/.*|node:internal\/webstreams\/.*|node:internal\/abort_controller|node:internal\/event_target|node:internal\/per_context\/domexception|node:internal\/worker\/js_transferable|node:internal\/encoding)$/,
  ],
  [
    'HTTP framework (Express, Nest, middleware, node:http)',
    /^(express|router|body-parser|raw-body|helmet|cors|@nestjs\/(core|common|platform-express|throttler|passport|swagger)|path-to-regexp|parseurl|content-type|type-is|on-finished|finalhandler|qs|send|mime-types|media-typer|vary|iconv-lite|depd|http-errors|statuses|node:_http_\w+|reflect-metadata|rxjs|lodash|object-assign)$/,
  ],
  [
    'logging (pino, nestjs-pino)',
    /^(pino|pino-http|pino-std-serializers|@pinojs\/.*|nestjs-pino|sonic-boom|thread-stream|fast-redact)$/,
  ],
  [
    'JWT + crypto',
    /^(jsonwebtoken|jws|jwa|@nestjs\/jwt|node:internal\/crypto\/.*|safe-buffer|buffer-equal-constant-time|ecdsa-sig-formatter)$/,
  ],
  [
    'validation (class-validator/transformer)',
    /^(class-validator|class-transformer|validator|libphonenumber-js)$/,
  ],
  ['async context (AsyncLocalStorage hooks)', /^(node:internal\/async_hooks|node:async_hooks)$/],
  [
    'Socket.IO / ws',
    /^(socket\.io|socket\.io-parser|socket\.io-adapter|engine\.io|engine\.io-parser|ws|@socket\.io\/.*)$/,
  ],
  ['metrics (prom-client)', /^prom-client$/],
  ['app code (src/, libs/, config/)', /^(src|libs|config)\//],
  ['module loading (start-up)', /^node:internal\/modules\/.*$/],
  ['GC', /^\(GC\)$/],
  ['native (syscalls: socket writes, SQLite I/O…)', /^\(native\/V8\)$/],
];

function category(ownerKey: string): string {
  for (const [name, pattern] of CATEGORIES) if (pattern.test(ownerKey)) return name;
  return ownerKey.startsWith('node:')
    ? 'other Node internals (streams, events, timers, net)'
    : `other (${ownerKey})`;
}

function label(node: ProfileNode): string {
  const { functionName, url, lineNumber } = node.callFrame;
  return `${functionName || '(anonymous)'} ${owner(url)}:${lineNumber + 1}`;
}

function main(): void {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { top: { type: 'string', default: '30' } },
  });
  if (!positionals[0]) throw new Error('usage: profile-summary.ts <file.cpuprofile> [--top N]');
  const top = Number(values.top);
  const profile = JSON.parse(readFileSync(positionals[0], 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) {
    for (const child of node.children ?? []) parent.set(child, node.id);
  }

  // Self time per node from the samples and their time deltas (µs).
  const self = new Map<number, number>();
  profile.samples.forEach((id, i) =>
    self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)),
  );
  const totalUs = profile.endTime - profile.startTime;

  const selfByLabel = new Map<string, number>();
  const totalByLabel = new Map<string, number>();
  const selfByOwner = new Map<string, number>();
  for (const [id, us] of self) {
    const node = byId.get(id)!;
    const name = node.callFrame.functionName;
    const key = label(node);
    selfByLabel.set(key, (selfByLabel.get(key) ?? 0) + us);
    const ownerKey =
      name === '(idle)'
        ? '(idle)'
        : name === '(garbage collector)'
          ? '(GC)'
          : owner(node.callFrame.url);
    selfByOwner.set(ownerKey, (selfByOwner.get(ownerKey) ?? 0) + us);
    // Total time: this sample counts once for every distinct function on its stack.
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const frame = label(byId.get(cur)!);
      if (seen.has(frame)) continue;
      seen.add(frame);
      totalByLabel.set(frame, (totalByLabel.get(frame) ?? 0) + us);
    }
  }
  const idle = selfByOwner.get('(idle)') ?? 0;
  const busy = totalUs - idle;
  const print = (title: string, map: Map<string, number>, base: number) => {
    console.log(`\n${title}`);
    [...map.entries()]
      .filter(
        ([key]) =>
          !key.startsWith('(idle)') && !key.startsWith('(root)') && !key.startsWith('(program)'),
      )
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .forEach(([key, us]) =>
        console.log(
          `${((100 * us) / base).toFixed(1).padStart(6)}%  ${(us / 1000).toFixed(0).padStart(7)} ms  ${key}`,
        ),
      );
  };
  console.log(
    `profile: ${(totalUs / 1e6).toFixed(1)} s, busy ${(busy / 1e6).toFixed(1)} s (${((100 * busy) / totalUs).toFixed(0)}%); percentages of busy time`,
  );
  const byCategory = new Map<string, number>();
  for (const [ownerKey, us] of selfByOwner) {
    if (ownerKey === '(idle)') continue;
    const name = category(ownerKey);
    byCategory.set(name, (byCategory.get(name) ?? 0) + us);
  }
  print('self time by category', byCategory, busy);
  print('self time by package / file', selfByOwner, busy);
  print('self time by function', selfByLabel, busy);
  print('total time by function (self + callees)', totalByLabel, busy);
}

main();
