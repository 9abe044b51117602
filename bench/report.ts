import { isSkipped } from './lib/databases';
import type { LoadResult } from './lib/http-load';
import type { LatencySummary } from './lib/stats';
import type { CeilingResult } from './scenarios/ceiling';
import type { ChatDbResult, ChatResult } from './scenarios/chat';
import type { HistoryDbResult, HistoryResult } from './scenarios/history';
import type { LoginResult } from './scenarios/login';
import type { OpenAiResult } from './scenarios/openai';
import type { SocketsResult } from './scenarios/sockets';
import type { StreamingResult } from './scenarios/streaming';

export interface BenchReport {
  date: string;
  profile: string;
  command: string;
  machine: {
    cpu: string;
    cores: number;
    memoryGb: number;
    node: string;
    platform: string;
    commit: string;
    loadAverageBefore: number[];
    loadAverageAfter?: number[];
  };
  bcryptRounds: number;
  results: {
    ceiling?: CeilingResult;
    login?: LoginResult;
    history?: HistoryResult;
    chat?: ChatResult;
    streaming?: StreamingResult;
    sockets?: SocketsResult;
    openai?: OpenAiResult;
  } & Record<string, unknown>;
  errors: Record<string, string>;
  seconds: number;
  targets?: TargetVerdict[];
}

export interface TargetVerdict {
  target: string;
  measured: string;
  /** null: not measured in this run (benchmark skipped or failed). */
  met: boolean | null;
}

/** The issue's targets, each checked against this run's figures. */
export function evaluateTargets(report: BenchReport): TargetVerdict[] {
  const { streaming, sockets, login } = report.results;
  const chat = report.results.chat?.filter((c) => !isSkipped(c)) as ChatDbResult[] | undefined;
  const history = report.results.history?.filter((h) => !isSkipped(h)) as
    HistoryDbResult[] | undefined;
  const verdicts: TargetVerdict[] = [];
  const add = (target: string, measured: string | undefined, met: boolean | undefined) =>
    verdicts.push({ target, measured: measured ?? 'not measured', met: met ?? null });

  const sqlite = chat?.find((c) => c.database === 'sqlite');
  const pg = chat?.find((c) => c.database === 'postgres');
  add(
    'Chat on SQLite ≥ 950 req/s',
    sqlite && `${sqlite.chatSaturation.rps} req/s`,
    sqlite && sqlite.chatSaturation.rps >= 950,
  );
  add(
    'Chat on SQLite ≥ 35% of the same run’s /health/live',
    sqlite &&
      `${pct(sqlite.shareOfCeiling)} (${sqlite.chatSaturation.rps} / ${sqlite.healthCeiling.rps} req/s)`,
    sqlite && sqlite.shareOfCeiling >= 0.35,
  );
  add(
    'Chat on Postgres ≥ 700 req/s',
    pg && `${pg.chatSaturation.rps} req/s`,
    pg && pg.chatSaturation.rps >= 700,
  );
  for (const c of [sqlite, pg]) {
    const at200 = c?.rates.find((r) => r.rate === 200);
    add(
      `Added latency at 200 req/s (${c?.database ?? 'sqlite'}): p50 ≤ 2 ms, p99 ≤ 10 ms`,
      at200 &&
        `p50 +${at200.addedP50} ms, p99 +${at200.addedP99} ms (200 req/s = ${pct(at200.shareOfCapacity)} of chat capacity)`,
      at200 && at200.addedP50 <= 2 && at200.addedP99 <= 10,
    );
  }
  const phasesAt = (n: number) =>
    streaming
      ?.flatMap((level) => level.phases)
      .filter((p) => p.concurrency === n && p.transport !== 'direct') ?? [];
  const at100 = phasesAt(100);
  add(
    'Streaming: added time to first token p50 ≤ 5 ms at 100 concurrent streams',
    at100.length ? at100.map((p) => `${p.transport} +${p.addedTtftP50} ms`).join(', ') : undefined,
    at100.length ? at100.every((p) => (p.addedTtftP50 ?? Infinity) <= 5) : undefined,
  );
  const at1000 = phasesAt(1000);
  add(
    '1,000 concurrent streams without a dropped or reordered delta',
    at1000.length
      ? at1000
          .map(
            (p) =>
              `${p.transport}: ${p.streams} ok, ${p.failed} failed, ${p.dropped} dropped, ${p.reordered} reordered`,
          )
          .join('; ')
      : undefined,
    at1000.length
      ? at1000.every((p) => p.dropped === 0 && p.reordered === 0 && p.failed === 0 && p.streams > 0)
      : undefined,
  );
  add(
    '≥ 10,000 concurrent Socket.IO connections in one process at ≤ 50 KB each',
    sockets && `${sockets.connected} open, ${sockets.rssPerConnectionKb} KB RSS each`,
    sockets && sockets.requested >= 10_000
      ? sockets.connected >= 10_000 && sockets.rssPerConnectionKb <= 50
      : undefined,
  );
  for (const h of history ?? []) {
    const worst = h.points.reduce((a, b) => (b.load.latency.p99 > a.load.latency.p99 ? b : a));
    add(
      `History p99 ≤ 20 ms for any page (${h.database})`,
      `worst p99 ${worst.load.latency.p99} ms (${worst.name})`,
      h.points.every((p) => p.load.latency.p99 <= 20 && p.load.failed === 0),
    );
    const ratios = Object.entries(h.deepVsFirst);
    add(
      `History deep pages as fast as page 1 (${h.database}; p50 within 25%)`,
      ratios.map(([name, r]) => `${name} ×${r.p50}`).join(', '),
      ratios.every(([, r]) => r.p50 <= 1.25),
    );
  }
  add(
    `Login ≥ 90% of the raw bcrypt rate (cost ${report.bcryptRounds})`,
    login &&
      `${pct(login.shareOfRawBcrypt)} (${login.logins.rps} / ${login.rawBcryptPerSecond} per s)`,
    login && login.shareOfRawBcrypt >= 0.9,
  );
  add(
    'Event-loop delay p99 ≤ 20 ms during a login storm',
    login && `${login.eventLoopDelayP99Ms} ms (max ${login.eventLoopDelayMaxMs} ms)`,
    login && login.eventLoopDelayP99Ms <= 20,
  );
  const openai = report.results.openai;
  const firstRate = openai?.rates[0];
  add(
    '/v1/chat/completions (stateless): added p50 ≤ 1.5 ms over the same SDK call to the simulator',
    firstRate &&
      `p50 +${firstRate.addedP50} ms, p99 +${firstRate.addedP99} ms at ${firstRate.rate} req/s (${pct(firstRate.shareOfCapacity)} of /v1 capacity)`,
    firstRate && firstRate.addedP50 <= 1.5,
  );
  add(
    '/v1/chat/completions throughput within 10% of /api/chat (no titles)',
    openai &&
      `${pct(openai.v1VsChat)} (${openai.v1Saturation.rps} / ${openai.chatSaturation.rps} req/s)`,
    openai && openai.v1VsChat >= 0.9,
  );
  add(
    'API-key auth costs no more CPU per request than JWT auth',
    openai &&
      `×${openai.keyCpuVsJwt}: median of ${openai.authRounds} interleaved rounds (${openai.keyCpuVsJwtByRound.map((r) => `×${r}`).join(', ')}); median rounds ${openai.modelsWithKey.cpuMsPerRequest ?? '?'} vs ${openai.modelsWithJwt.cpuMsPerRequest ?? '?'} ms/req`,
    // Within 5%: the median of paired rounds still moves by about that much from run to run.
    openai && openai.keyCpuVsJwt <= 1.05,
  );
  return verdicts;
}

/** The report as Markdown: machine, command, every figure with its in-run baseline, verdicts. */
export function renderReport(report: BenchReport): string {
  const out: string[] = [];
  const m = report.machine;
  out.push(`# Benchmark ${report.profile} — ${report.date}`);
  out.push('');
  out.push(`- Command: \`${report.command}\` (${report.seconds} s)`);
  out.push(
    `- Machine: ${m.cores} × ${m.cpu}, ${m.memoryGb} GB, ${m.platform}, Node ${m.node}, commit ${m.commit}`,
  );
  out.push(
    `- Load average before/after: ${m.loadAverageBefore.join(' ')} / ${m.loadAverageAfter?.join(' ') ?? '?'}`,
  );
  out.push('');
  const r = report.results;

  if (r.ceiling) {
    out.push('## Framework ceiling (saturation)');
    out.push('');
    out.push(loadHeader());
    out.push(loadRow('bare node:http JSON', r.ceiling.bareNodeHttp));
    out.push(loadRow('app GET /health/live', r.ceiling.healthLive));
    out.push('');
    out.push(`/health/live reaches ${pct(r.ceiling.appShareOfNode)} of bare node:http.`);
    out.push('');
  }

  for (const c of r.chat ?? []) {
    out.push(`## Chat overhead — ${c.database}`);
    out.push('');
    if (isSkipped(c)) {
      out.push(`Not measured: ${c.skipped}`);
      out.push('');
      continue;
    }
    out.push(loadHeader());
    out.push(loadRow('app GET /health/live (ceiling)', c.healthCeiling));
    out.push(loadRow('app GET /api/users/me (JWT + 1 read)', c.authedRead));
    out.push(loadRow('openai SDK → simulator (baseline)', c.directSaturation, 'simulator'));
    out.push(loadRow('POST /api/chat', c.chatSaturation));
    out.push('');
    out.push(
      `The openai SDK itself costs its caller ${c.directSaturation.clientCpuMsPerRequest ?? '?'} ms of CPU per streamed ` +
        `call (measured in the load generator during the baseline run); the app pays that inside every chat request.`,
    );
    out.push('');
    out.push(
      `Chat keeps ${pct(c.shareOfCeiling)} of the /health/live ceiling and ${pct(c.shareOfDirect)} of the direct SDK rate.`,
    );
    out.push('');
    out.push(
      '| offered req/s (share of chat capacity) | direct p50 / p99 ms | chat p50 / p99 ms | added p50 / p99 ms | chat req/s achieved | chat failed or not sent | app CPU ms/req |',
    );
    out.push('|---|---|---|---|---|---|---|');
    for (const p of c.rates) {
      out.push(
        `| ${p.rate} (${pct(p.shareOfCapacity)}) | ${p.direct.latency.p50} / ${p.direct.latency.p99} | ${p.chat.latency.p50} / ${p.chat.latency.p99} | ` +
          `${p.addedP50} / ${p.addedP99} | ${p.chat.rps} | ${p.chat.failed + (p.chat.late ?? 0)} | ${p.chat.cpuMsPerRequest ?? '–'} |`,
      );
    }
    out.push('');
  }

  if (r.streaming) {
    out.push('## Streaming');
    out.push('');
    out.push(
      '| streams | transport | peak open | replies ok | failed | dropped | reordered | TTFT p50 / p99 ms | added TTFT p50 / p99 | gap p50 / p99 ms | added gap p50 / p99 | words/s | app CPU % |',
    );
    out.push('|---|---|---|---|---|---|---|---|---|---|---|---|---|');
    for (const level of r.streaming) {
      for (const p of level.phases) {
        out.push(
          `| ${p.concurrency} (${level.tokensPerReply} words, ${level.chunkDelayMs} ms apart) | ${p.transport} | ${p.peakConcurrent} | ${p.streams} | ${p.failed} | ${p.dropped} | ${p.reordered} | ` +
            `${lat(p.ttft)} | ${p.addedTtftP50 ?? '–'} / ${p.addedTtftP99 ?? '–'} | ${lat(p.gap)} | ` +
            `${p.addedGapP50 ?? '–'} / ${p.addedGapP99 ?? '–'} | ${p.deltasPerSecond} | ${p.appCpuPercent ?? '–'} |`,
        );
      }
    }
    for (const p of r.streaming.flatMap((level) => level.phases).filter((p) => p.firstError)) {
      out.push(`\n${p.concurrency} ${p.transport}: first error "${p.firstError}"`);
    }
    out.push('');
  }

  if (r.openai) {
    const o = r.openai;
    out.push('## OpenAI-compatible /v1 and API keys — sqlite');
    out.push('');
    out.push(loadHeader());
    out.push(loadRow('GET /api/models with a JWT', o.modelsWithJwt));
    out.push(loadRow('GET /api/models with an API key', o.modelsWithKey));
    out.push(loadRow('POST /api/chat (new session, no titles)', o.chatSaturation));
    out.push(loadRow('POST /v1/chat/completions (stateless)', o.v1Saturation));
    out.push('');
    out.push(
      `An API key costs ×${o.keyCpuVsJwt} the CPU of a JWT per request (median of ${o.authRounds} interleaved rounds: ${o.keyCpuVsJwtByRound.map((r) => `×${r}`).join(', ')}; the table shows the median rounds); /v1 reaches ${pct(o.v1VsChat)} of /api/chat.`,
    );
    out.push('');
    out.push(
      '| offered req/s (share of /v1 capacity) | SDK → simulator p50 / p99 ms | SDK → /v1 p50 / p99 ms | added p50 / p99 ms |',
    );
    out.push('|---|---|---|---|');
    for (const p of o.rates) {
      out.push(
        `| ${p.rate} (${pct(p.shareOfCapacity)}) | ${p.direct.latency.p50} / ${p.direct.latency.p99} | ${p.v1.latency.p50} / ${p.v1.latency.p99} | ${p.addedP50} / ${p.addedP99} |`,
      );
    }
    out.push('');
  }

  if (r.sockets) {
    const k = r.sockets;
    out.push('## Idle Socket.IO connections');
    out.push('');
    out.push(
      `${k.connected} of ${k.requested} connected (app gauge ${k.serverGauge}, ${k.disconnectedWhileIdle} dropped while idle) ` +
        `in ${k.connectSeconds} s (${k.connectsPerSecond}/s). RSS ${k.rssBeforeMb} → ${k.rssAfterMb} MB ` +
        `= **${k.rssPerConnectionKb} KB per connection**; V8 heap ${k.heapBeforeMb} → ${k.heapAfterMb} MB ` +
        `(${k.heapPerConnectionKb} KB each). GET /health/live with all open: ${k.healthWithAllOpenMs} ms.` +
        (k.firstError ? ` First error: ${k.firstError}` : ''),
    );
    out.push('');
  }

  for (const h of r.history ?? []) {
    out.push(`## History — ${h.database}`);
    out.push('');
    if (isSkipped(h)) {
      out.push(`Not measured: ${h.skipped}`);
      out.push('');
      continue;
    }
    out.push(
      Object.entries(h.datasets)
        .map(
          ([name, d]) =>
            `${name}: ${d.users} users, ${d.sessions} sessions, ${d.messages} messages (seeded in ${d.seedSeconds} s)`,
        )
        .join('; '),
    );
    out.push('');
    out.push('| page | request | req/s | p50 ms | p99 ms | failed |');
    out.push('|---|---|---|---|---|---|');
    for (const p of h.points) {
      out.push(
        `| ${p.name} | \`${p.request}\` | ${p.load.rps} | ${p.load.latency.p50} | ${p.load.latency.p99} | ${p.load.failed} |`,
      );
    }
    out.push('');
    out.push(
      `Deep page ÷ page 1: ${Object.entries(h.deepVsFirst)
        .map(([name, v]) => `${name} p50 ×${v.p50}, p99 ×${v.p99}`)
        .join('; ')}.`,
    );
    out.push('');
    out.push(loadHeader());
    out.push(loadRow('list page 1 (saturation)', h.listSaturation.page1));
    out.push(loadRow('list last page (saturation)', h.listSaturation.deep));
    out.push('');
  }

  if (r.login) {
    const l = r.login;
    out.push(`## Login (bcrypt cost ${l.bcryptRounds})`);
    out.push('');
    out.push(
      `Raw bcrypt.compare on this machine: ${l.rawBcryptPerSecond}/s (the ceiling). ` +
        `POST /api/auth/login: ${l.logins.rps}/s = **${pct(l.shareOfRawBcrypt)}** of it ` +
        `(p50 ${l.logins.latency.p50} ms, p99 ${l.logins.latency.p99} ms, ${l.logins.failed} failed). ` +
        `Event-loop delay during the storm: p99 ${l.eventLoopDelayP99Ms} ms, max ${l.eventLoopDelayMaxMs} ms; ` +
        `GET /health/live meanwhile: p50 ${l.probeDuringStorm.latency.p50} ms, p99 ${l.probeDuringStorm.latency.p99} ms.`,
    );
    out.push('');
  }

  if (report.targets?.length) {
    out.push('## Targets');
    out.push('');
    out.push('| target | this run | met |');
    out.push('|---|---|---|');
    for (const t of report.targets) {
      out.push(
        `| ${t.target} | ${t.measured} | ${t.met === null ? '–' : t.met ? 'yes' : '**no**'} |`,
      );
    }
    out.push('');
  }
  for (const [name, message] of Object.entries(report.errors)) {
    out.push(`**${name} failed:** ${message.split('\n')[0]}`);
  }
  return out.join('\n');
}

function loadHeader(): string {
  return '| run | req/s | p50 ms | p99 ms | failed | CPU ms/req |\n|---|---|---|---|---|---|';
}

function loadRow(name: string, load: LoadResult, cpuLabel?: string): string {
  const cpu =
    load.cpuMsPerRequest === undefined
      ? '–'
      : `${load.cpuMsPerRequest}${cpuLabel ? ` (${cpuLabel})` : ''}`;
  const conns = load.connections ? ` (${load.connections} conns)` : '';
  return `| ${name}${conns} | ${load.rps} | ${load.latency.p50} | ${load.latency.p99} | ${load.failed} | ${cpu} |`;
}

function lat(l: LatencySummary): string {
  return `${l.p50} / ${l.p99}`;
}

function pct(ratio: number): string {
  return Number.isFinite(ratio) ? `${Math.round(ratio * 1000) / 10}%` : 'n/a';
}
