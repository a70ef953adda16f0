/**
 * `pnpm bench`: every figure of the suite, printed as a table and written to `bench/results.json`. Each figure is a
 * ratio against a baseline measured in the same run, because absolute times on shared machines drift.
 *
 *   pnpm bench                    every figure
 *   pnpm bench --figure 3         only figure 3 (repeat the flag, or give 2,3, for more; 6 means 6a and 6b)
 *   pnpm bench --figure 7 --quick figure 7 with a tenth of its merchants, calls and active set
 */
import { writeFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { createTokenCache } from '@x/core';
import { createIamportProvider } from '@x/iamport';
import { benchCredentials, emulatorMerchantCount } from './bench-credentials.js';
import { ensureBuilt, measureManyMerchantsBuilt, measureResolvedMerchantsBuilt } from './built-packages.js';
import { measureHotPath } from './hot-path.js';
import { describeMachine } from './machine.js';
import { type LoadSettings, measureAzureOverhead, measureFetchOverhead, measureInterceptorOverhead } from './request-overhead.js';
import type { ResolvedMerchantsResult, ResolvedMerchantsSettings } from './resolved-merchants.js';
import { startServerHost } from './server-host.js';
import { measureAzureStampede, measureCacheStampede, measureHandWrittenStampede } from './stampede.js';
import { type FigureRow, metCell, printTable } from './table.js';

type Row = FigureRow;

const load: LoadSettings = { total: 20_000, concurrency: 32, blockSize: 1_000, warmup: 2_000 };
const stampedeCallers = 10_000;
const merchantCount = 100_000;
const resolverLatencyLabel = '1 ms (setTimeout)';

const fixed = (value: number, digits = 2): string => value.toFixed(digits);
const milliseconds = (value: number): string => `${value < 10 ? value.toFixed(1) : Math.round(value)} ms`;
const log = (message: string): void => {
  process.stderr.write(`bench: ${message}\n`);
};

const figureIds = ['1', '2', '3', '4', '5', '6a', '6b', '7'];
const { values: flags } = parseArgs({
  options: { figure: { type: 'string', multiple: true }, quick: { type: 'boolean' } },
  strict: true,
});
/** Figure 7's sizes: the issue's, or a tenth of each with `--quick`. */
const scale = flags.quick === true ? 0.1 : 1;
const resolved = {
  merchants: 1_000_000 * scale,
  called: 100_000 * scale,
  /** Two active-set sizes, so the heap's per-merchant slope is measured, not assumed. */
  activeMerchants: [5_000 * scale, 10_000 * scale],
  credentials: emulatorMerchantCount * scale,
  latencySamples: 2_000 * scale,
};
const requested = (flags.figure ?? []).flatMap((text) => text.split(',')).map((text) => text.trim().toLowerCase());
for (const id of requested) {
  if (!figureIds.some((figure) => figure === id || figure.replace(/[ab]$/, '') === id)) {
    process.stderr.write(`bench: --figure must be one of ${figureIds.join(', ')} or 6, not "${id}"\n`);
    process.exit(2);
  }
}
/** Whether a step that measures any of `ids` runs: every step without --figure, else those it names. */
const runs = (...ids: string[]): boolean =>
  requested.length === 0 || ids.some((id) => requested.includes(id) || requested.includes(id.replace(/[ab]$/, '')));

const runStarted = performance.now();
const machine = describeMachine();
log(`${machine.cpuModel}, ${machine.cores} cores, Node ${machine.node}, load ${fixed(machine.loadAverageAtStart)}`);
if (runs('5', '7')) ensureBuilt(log);
const host = await startServerHost();
const rows: Row[] = [];
const results: Record<string, unknown> = {};
const throughputRow = (
  id: string,
  figure: string,
  subject: { ratio: number; cpuRatio: number; rps: number },
  baselineRps: number,
  target?: number,
): Row => ({
  id,
  figure,
  value: fixed(subject.ratio),
  target: target === undefined ? '' : `≥ ${fixed(target)}`,
  met: target === undefined ? undefined : subject.ratio >= target,
  detail: `CPU-time ratio ${fixed(subject.cpuRatio)}; ${Math.round(subject.rps)} vs ${Math.round(baselineRps)} req/s`,
});
const loadLabel = `${(load.total / 1000).toFixed(0)}k requests, concurrency ${load.concurrency}`;
try {
  if (runs('1', '6a')) await hotPathStep();
  if (runs('4')) await coldStampedeStep();
  if (runs('6a', '6b')) await peerStampedeStep();
  if (runs('5')) await manyMerchantsStep();
  if (runs('7')) await resolvedMerchantsStep();
  if (runs('3')) await interceptorStep();
  if (runs('6b')) await azureOverheadStep();
  if (runs('2', '6a')) await fetchOverheadStep();
  const counters = await host.counters();
  if (counters.withoutBearer > 0) throw new Error(`${counters.withoutBearer} API requests arrived without a bearer token`);
} finally {
  await host.close();
}

async function hotPathStep(): Promise<void> {
  log('1. hot path');
  const hot = await measureHotPath();
  results.hotPath = hot;
  rows.push(
    {
      id: '1',
      figure: 'Hot path: cached getToken() ÷ async constant (time)',
      value: `${fixed(hot.cacheRatio)}×`,
      target: '',
      met: undefined,
      detail: `${fixed(hot.cacheNs, 0)} ns vs ${fixed(hot.baselineNs, 0)} ns per awaited call`,
    },
    {
      // The cache reads the monotonic clock on every hit (a timer cannot be trusted to end a token's fresh period in a
      // process frozen between requests), so the floor it can reach is one clock read plus a resolved promise.
      id: '1',
      figure: 'Hot path: cached getToken() ÷ one clock read + resolved promise',
      value: `${fixed(hot.cacheNs / hot.clockFloorNs)}×`,
      target: '≤ 1.10×',
      met: hot.cacheNs / hot.clockFloorNs <= 1.1,
      detail: `${fixed(hot.cacheNs, 0)} ns vs ${fixed(hot.clockFloorNs, 0)} ns`,
    },
    {
      id: '1',
      figure: 'Hot path: cached getToken() with subscribers on both diagnostics channels ÷ without',
      value: `${fixed(hot.observedRatio)}×`,
      target: '≤ 1.05×',
      met: hot.observedRatio <= 1.05,
      detail: `${fixed(hot.observedNs, 0)} ns vs ${fixed(hot.cacheNs, 0)} ns (x:token:request and x:token:event)`,
    },
    {
      id: '1',
      figure: '  context: one performance.now() + resolved promise ÷ async constant',
      value: `${fixed(hot.clockFloorRatio)}×`,
      target: '',
      met: undefined,
      detail: `${fixed(hot.clockFloorNs, 0)} ns: the floor of any check that reads the clock; ${fixed(hot.clockReadNs, 0)} ns per clock read here`,
    },
    {
      id: '1',
      figure: '  context: registry.tokens(id).getToken() ÷ async constant',
      value: `${fixed(hot.registryRatio)}×`,
      target: '',
      met: undefined,
      detail: `${fixed(hot.registryNs, 0)} ns`,
    },
    {
      id: '6a',
      figure: 'Peer (a) hand-written module-level token: hot path ÷ async constant',
      value: `${fixed(hot.handWrittenRatio)}×`,
      target: '',
      met: undefined,
      detail: `${fixed(hot.handWrittenNs, 0)} ns`,
    },
  );
}

async function coldStampedeStep(): Promise<void> {
  log('4. cold stampede');
  // Warms the provider, the schemas and a connection to the emulator, as in any process that has run a while.
  await createTokenCache(createIamportProvider({ ...benchCredentials(3), baseUrl: host.emulatorUrl })).getToken();
  const stampede = await measureCacheStampede(host, stampedeCallers);
  results.coldStampede = stampede;
  rows.push({
    id: '4',
    figure: `Cold stampede: token requests for ${stampedeCallers.toLocaleString('en')} concurrent getToken()`,
    value: String(stampede.tokenRequests),
    target: '= 1',
    met: stampede.tokenRequests === 1 && stampede.failures === 0,
    detail: `p50 ${milliseconds(stampede.p50Ms)}, p99 ${milliseconds(stampede.p99Ms)}, ${stampede.failures} failed`,
  });
}

async function peerStampedeStep(): Promise<void> {
  log('6. peers: stampede');
  const azureStampede = await measureAzureStampede(host, stampedeCallers);
  const handWrittenStampede = await measureHandWrittenStampede(host, stampedeCallers);
  results.peerStampede = { azureBearerPolicy: azureStampede, handWritten: handWrittenStampede };
  rows.push(
    {
      id: '6a',
      figure: 'Peer (a) hand-written token: token requests in the same stampede',
      value: String(handWrittenStampede.tokenRequests),
      target: '',
      met: undefined,
      detail: `p50 ${milliseconds(handWrittenStampede.p50Ms)}, p99 ${milliseconds(handWrittenStampede.p99Ms)}, ${handWrittenStampede.failures} failed`,
    },
    {
      id: '6b',
      figure: 'Peer (b) Azure bearerTokenAuthenticationPolicy: token requests in the same stampede',
      value: String(azureStampede.tokenRequests),
      target: '',
      met: undefined,
      detail: `p50 ${milliseconds(azureStampede.p50Ms)}, p99 ${milliseconds(azureStampede.p99Ms)}, ${azureStampede.failures} failed`,
    },
  );
}

async function manyMerchantsStep(): Promise<void> {
  log('5. many merchants');
  await host.reset();
  const many = await measureManyMerchantsBuilt(host.emulatorUrl, merchantCount);
  const { tokenRequests: merchantTokenRequests } = await host.emulatorCounters();
  results.manyMerchants = { ...many, tokenRequests: merchantTokenRequests };
  rows.push(
    {
      id: '5',
      figure: `Many merchants: retained heap per used merchant (${many.used.toLocaleString('en')} of ${many.merchants.toLocaleString('en')}, built packages)`,
      value: `${fixed(many.retainedBytesPerUsedMerchant / 1024)} KB`,
      target: '< 3 KB',
      met: many.retainedBytesPerUsedMerchant < 3 * 1024,
      detail: `${merchantTokenRequests} token requests in ${milliseconds(many.useMs)}`,
    },
    {
      id: '5',
      figure: `  creation: loadMerchantConfig + createMerchantRegistry, ${many.merchants.toLocaleString('en')} merchants`,
      value: milliseconds(many.loadConfigMs + many.createRegistryMs),
      target: '',
      met: undefined,
      detail: `load ${milliseconds(many.loadConfigMs)}, registry ${milliseconds(many.createRegistryMs)}, heap ${fixed(many.heapAfterCreateBytes / 2 ** 20, 0)} MB`,
    },
  );
}

async function resolvedMerchantsStep(): Promise<void> {
  log('7. merchants resolved on demand');
  const runsBySize: ResolvedMerchantsResult[] = [];
  for (const [index, activeMerchants] of resolved.activeMerchants.entries()) {
    // Each size starts cold on both sides: a fresh process, and an emulator holding no token.
    await host.reset();
    const settings: ResolvedMerchantsSettings = {
      merchants: resolved.merchants,
      called: resolved.called,
      activeMerchants,
      credentials: resolved.credentials,
      // Timed at the largest size only, the issue's.
      latencySamples: index === resolved.activeMerchants.length - 1 ? resolved.latencySamples : 0,
    };
    log(`   ${activeMerchants.toLocaleString('en')} active merchants`);
    runsBySize.push(await measureResolvedMerchantsBuilt(host.emulatorUrl, settings));
  }
  const small = runsBySize[0]!;
  const large = runsBySize.at(-1)!;
  const slopeBytes = (large.retainedBytes - small.retainedBytes) / (large.activeMerchants - small.activeMerchants);
  const constantBytes = large.retainedBytes - slopeBytes * large.activeMerchants;
  const latency = large.latency!;
  const megabytes = (bytes: number): string => `${fixed(bytes / 2 ** 20, 1)} MB`;
  const count = (value: number): string => value.toLocaleString('en');
  const broken = runsBySize.reduce((sum, run) => sum + run.failures + run.withoutBearer, 0);
  results.resolvedMerchants = { settings: resolved, slopeBytes, constantBytes, runs: runsBySize };
  rows.push(
    {
      id: '7',
      figure:
        `Resolved merchants: retained heap per active merchant (${count(large.called)} of ${count(large.merchants)} called via ` +
        `resolveMerchant, slope between ${count(small.activeMerchants)} and ${count(large.activeMerchants)} active, built packages)`,
      value: `${fixed(slopeBytes / 1024)} KB`,
      target: '≤ 3 KB + constant',
      met: slopeBytes <= 3 * 1024 && broken === 0,
      detail:
        `constant ${megabytes(constantBytes)}; retained ${megabytes(small.retainedBytes)} at ${count(small.activeMerchants)}, ` +
        `${megabytes(large.retainedBytes)} at ${count(large.activeMerchants)} (${fixed(large.retainedBytes / large.activeMerchants / 1024)} KB each all told)` +
        `${broken === 0 ? '' : `; ${broken} calls failed or went out without a token`}`,
    },
    {
      id: '7',
      figure: `  token requests ÷ distinct credentials (${count(large.credentials)} shared by ${count(large.called)} merchants, each token outlives the run)`,
      value: runsBySize.map((run) => fixed(run.tokenRequests / run.credentials)).join(', '),
      target: '= 1.00',
      met: runsBySize.every((run) => run.tokenRequests === run.credentials),
      detail: runsBySize
        .map(
          (run) =>
            `${count(run.activeMerchants)} active: ${count(run.tokenRequests)} token requests, ${count(run.resolves)} resolves, ${milliseconds(run.bulkMs)}`,
        )
        .join('; '),
    },
    {
      id: '7',
      figure: `  first call via resolveMerchant ÷ the resolver's own ${resolverLatencyLabel} (${count(large.latencySamples)} calls, one at a time, API answered in-process)`,
      value: `${fixed(latency.callP50Ms / latency.resolverP50Ms)}×`,
      target: '',
      met: undefined,
      detail:
        `added p50 ${fixed(latency.addedP50Ms, 3)} ms, p99 ${fixed(latency.addedP99Ms, 3)} ms; ` +
        `call p50 ${fixed(latency.callP50Ms, 3)} ms, p99 ${fixed(latency.callP99Ms, 3)} ms; resolver p50 ${fixed(latency.resolverP50Ms, 3)} ms`,
    },
  );
}

async function interceptorStep(): Promise<void> {
  log('3. interceptor and dispatcher overhead');
  const interceptor = await measureInterceptorOverhead(host.apiUrl, load);
  results.interceptorOverhead = interceptor;
  rows.push(
    throughputRow(
      '3',
      `Interceptor: undici.request via createAuthInterceptor ÷ header by hand (${loadLabel})`,
      interceptor.subjects.interceptor!,
      interceptor.baselineRps,
      0.97,
    ),
    throughputRow(
      '3',
      `Dispatcher: undici.request via createAuthDispatcher ÷ header by hand (${loadLabel})`,
      interceptor.subjects.dispatcher!,
      interceptor.baselineRps,
      0.97,
    ),
    throughputRow(
      '3',
      '  context: a no-op interceptor (undici compose) ÷ header by hand',
      interceptor.subjects.noopInterceptor!,
      interceptor.baselineRps,
    ),
  );
}

async function azureOverheadStep(): Promise<void> {
  log('6b. Azure bearer policy overhead');
  const azure = await measureAzureOverhead(host.apiUrl, load);
  results.azureOverhead = azure;
  rows.push(
    throughputRow(
      '6b',
      'Peer (b) Azure bearer policy ÷ header policy by hand (throughput, its node:http client)',
      azure.subjects.azureBearer!,
      azure.baselineRps,
    ),
  );
}

async function fetchOverheadStep(): Promise<void> {
  log('2. bearer fetch overhead');
  const fetchOverhead = await measureFetchOverhead(host.apiUrl, load);
  results.fetchOverhead = fetchOverhead;
  rows.push(
    throughputRow(
      '2',
      `Bearer fetch: createAuthFetch ÷ fetch with header by hand (${loadLabel})`,
      fetchOverhead.subjects.authFetch!,
      fetchOverhead.baselineRps,
      0.97,
    ),
    throughputRow(
      '6a',
      'Peer (a) hand-written token + fetch ÷ fetch with header by hand (throughput)',
      fetchOverhead.subjects.handWritten!,
      fetchOverhead.baselineRps,
    ),
  );
}

rows.sort((a, b) => order(a.id) - order(b.id));
const totalSeconds = (performance.now() - runStarted) / 1000;
printRows(rows);
const loadAtEnd = loadavg()[0] ?? 0;
process.stdout.write(
  `\n${machine.cpuModel}, ${machine.cores} cores, ${fixed(machine.memoryBytes / 2 ** 30, 1)} GB, Node ${machine.node}; ` +
    `load average ${fixed(machine.loadAverageAtStart)} → ${fixed(loadAtEnd)}; ${fixed(totalSeconds, 0)} s\n`,
);
if (Math.max(machine.loadAverageAtStart, loadAtEnd) > machine.cores) {
  process.stdout.write('Note: the load average exceeded the core count: other work shared the CPUs and the ratios are noisier.\n');
}
const output = new URL('../results.json', import.meta.url);
await writeFile(
  output,
  `${JSON.stringify({ date: new Date().toISOString(), machine: { ...machine, loadAverageAtEnd: loadAtEnd }, durationSeconds: totalSeconds, settings: { load, stampedeCallers, merchantCount, resolved, quick: flags.quick === true, figures: requested.length === 0 ? figureIds : requested }, table: rows, results }, null, 2)}\n`,
);
process.stdout.write(`Wrote ${output.pathname}\n`);

function order(id: string): number {
  return Number.parseInt(id, 10) * 10 + (id.endsWith('b') ? 2 : id.endsWith('a') ? 1 : 0);
}

function printRows(table: readonly Row[]): void {
  printTable(
    ['#', 'figure', 'result', 'target', 'met', 'detail'],
    table.map((row) => [row.id, row.figure, row.value, row.target, metCell(row.met), row.detail]),
  );
}
