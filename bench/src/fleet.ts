/**
 * `pnpm bench:fleet`: a fleet of real processes (forked once, through tsx) sharing i'mport tokens through Redis, on one
 * Redis node and on a 3-master Redis Cluster. Prints a table and writes `bench/fleet-results.json`. It measures and
 * reports; it asserts nothing about time, and it is not part of `pnpm test`.
 *
 *   pnpm bench:fleet                                  50 workers × 100 merchants, node then cluster
 *   pnpm bench:fleet --workers 8 --merchants 10 --topology node
 *   pnpm bench:fleet --token-latency-ms 100 --holder-delay-ms 2000 --calls 2
 *   pnpm bench:fleet --operation-timeout-ms 5000 --store-timeout-ms 10000   store bounds a starved CPU cannot miss
 */
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { createIamportEmulator, type IamportEmulator } from '@x/iamport/testing';
import { type FleetWorker, startFleet } from '@x/test-support/redis-fleet';
import {
  type ColdStartResult,
  type FleetContext,
  type FleetSettings,
  type HolderKillResult,
  type LatencySummary,
  measureColdStart,
  measureHolderKill,
  measureSteadyState,
  measureWake,
  type SteadyStateResult,
  type WakeResult,
} from './fleet-scenarios.js';
import { type FleetTopologyName, startTopology } from './fleet-topology.js';
import { describeMachine } from './machine.js';
import { type FigureRow, metCell, printTable } from './table.js';

interface Row extends FigureRow {
  topology: FleetTopologyName;
}

interface TopologyResults {
  /** The unmeasured first round on this topology: in fresh processes on the first topology, so code runs for the first time. */
  warmUp: ColdStartResult;
  coldStart: ColdStartResult;
  steadyState: SteadyStateResult;
  holderKill: HolderKillResult;
  /** Figure 5 with a fifth of the workers, then with all of them. */
  wake: WakeResult[];
}

const log = (message: string): void => {
  process.stderr.write(`bench:fleet: ${message}\n`);
};
const fail = (message: string): never => {
  process.stderr.write(`bench:fleet: ${message}\n`);
  process.exit(2);
};

const { values: flags } = (() => {
  try {
    return parseArgs({
      options: {
        workers: { type: 'string' },
        merchants: { type: 'string' },
        topology: { type: 'string' },
        'token-latency-ms': { type: 'string' },
        'holder-delay-ms': { type: 'string' },
        'first-movers': { type: 'string' },
        calls: { type: 'string' },
        'operation-timeout-ms': { type: 'string' },
        'lock-wait-ms': { type: 'string' },
        'store-timeout-ms': { type: 'string' },
        'lock-lease-ms': { type: 'string' },
        'wake-merchants': { type: 'string' },
        'wake-rounds': { type: 'string' },
      },
      strict: true,
    });
  } catch (error) {
    return fail(error instanceof Error ? error.message : String(error));
  }
})();

const whole = (text: string | undefined, name: string, fallback: number, minimum = 1): number => {
  if (text === undefined) return fallback;
  const value = Number(text);
  return Number.isSafeInteger(value) && value >= minimum
    ? value
    : fail(`--${name} must be a whole number of at least ${minimum}, not "${text}"`);
};

const workers = whole(flags.workers, 'workers', 50, 2);
const settings: FleetSettings = {
  workers,
  merchants: whole(flags.merchants, 'merchants', 100),
  tokenLatencyMs: whole(flags['token-latency-ms'], 'token-latency-ms', 100, 0),
  holderDelayMs: whole(flags['holder-delay-ms'], 'holder-delay-ms', 2_000),
  firstMovers: whole(flags['first-movers'], 'first-movers', Math.max(1, Math.round(workers / 10))),
  callsPerMerchant: whole(flags.calls, 'calls', 2),
  callConcurrency: 8,
  operationTimeoutMs:
    flags['operation-timeout-ms'] === undefined ? undefined : whole(flags['operation-timeout-ms'], 'operation-timeout-ms', 1),
  lockWaitMs: flags['lock-wait-ms'] === undefined ? undefined : whole(flags['lock-wait-ms'], 'lock-wait-ms', 0),
  storeTimeoutMs: flags['store-timeout-ms'] === undefined ? undefined : whole(flags['store-timeout-ms'], 'store-timeout-ms', 1),
  lockLeaseMs: flags['lock-lease-ms'] === undefined ? undefined : whole(flags['lock-lease-ms'], 'lock-lease-ms', 1),
  wakeWaiters: true,
  wakeMerchants: whole(flags['wake-merchants'], 'wake-merchants', 4),
  wakeRounds: whole(flags['wake-rounds'], 'wake-rounds', 3),
};
if (settings.firstMovers >= workers) fail(`--first-movers must be fewer than --workers (${workers})`);
const topologyFlag = flags.topology ?? 'both';
if (topologyFlag !== 'node' && topologyFlag !== 'cluster' && topologyFlag !== 'both') {
  fail(`--topology must be node, cluster or both, not "${topologyFlag}"`);
}
const topologies: FleetTopologyName[] = topologyFlag === 'both' ? ['node', 'cluster'] : [topologyFlag as FleetTopologyName];

const runStarted = performance.now();
const machine = describeMachine();
log(`${machine.cpuModel}, ${machine.cores} cores, Node ${machine.node}, load ${machine.loadAverageAtStart.toFixed(2)}`);

// Made-up credentials, new each run: never printed, never written to the results.
const merchants = Array.from({ length: settings.merchants }, (_, index) => ({
  impKey: `imp_fleet_bench_${index}`,
  impSecret: `fleet-bench-secret-${index}-${randomBytes(12).toString('hex')}`,
}));
const rows: Row[] = [];
const results: Partial<Record<FleetTopologyName, TopologyResults>> = {};
let forkSeconds = 0;
let emulator: IamportEmulator | undefined;
let fleet: FleetWorker[] = [];
// Ctrl-C: no worker left behind; exiting runs the Redis servers' own clean-up (they are killed on 'exit').
process.once('SIGINT', () => {
  for (const worker of fleet) worker.process.kill('SIGKILL');
  process.exit(130);
});
// Nor on a crash: forked workers outlive their parent.
process.once('exit', () => {
  for (const worker of fleet) worker.process.kill('SIGKILL');
});
try {
  emulator = await createIamportEmulator({ merchants, recordRequests: false });
  log(`forking ${workers} workers (tsx)…`);
  const forkStarted = performance.now();
  fleet = await startFleet(workers);
  forkSeconds = (performance.now() - forkStarted) / 1000;
  log(`forked ${workers} workers in ${forkSeconds.toFixed(1)} s`);
  for (const [index, name] of topologies.entries()) {
    const topology = await startTopology(name);
    try {
      const context: FleetContext = {
        fleet,
        emulator,
        merchants,
        topology,
        encryptionKey: randomBytes(32).toString('base64'),
        settings,
        log,
      };
      log(`${name}: warm-up round`);
      const warmUp = await measureColdStart(context, 'warm-up');
      log(`${name}: 1–2. cold start`);
      const coldStart = await measureColdStart(context);
      log(`${name}: 3. steady state`);
      const steadyState = await measureSteadyState(context);
      // Before the SIGKILL scenario, which leaves fewer workers (replaced only when another topology follows).
      log(`${name}: 5. waiters woken, and polling`);
      const wake = [await measureWake(context, Math.max(2, Math.round(workers / 5))), await measureWake(context)];
      log(`${name}: 4. SIGKILLed holders`);
      const holderKill = await measureHolderKill(context, index < topologies.length - 1);
      results[name] = { warmUp, coldStart, steadyState, holderKill, wake };
      rows.push(...rowsOf(name, results[name]));
    } finally {
      await topology.stop();
    }
  }
} finally {
  await Promise.all(fleet.map((worker) => worker.stop()));
  await emulator?.close();
}

function rowsOf(topology: FleetTopologyName, { warmUp, coldStart, steadyState, holderKill, wake }: TopologyResults): Row[] {
  const { merchants: merchantCount, workers: workerCount, tokenLatencyMs } = settings;
  const calls = `${workerCount} workers × ${merchantCount} merchants`;
  const failures = (failed: number, firstError: string | undefined): string =>
    failed === 0 ? '' : `; ${failed} calls FAILED (${firstError ?? 'no message'})`;
  const p99OverDelay = coldStart.timeToToken.p99 - tokenLatencyMs;
  return [
    {
      topology,
      id: '1',
      figure: `Cold start, ${calls} at once: token requests the emulator received`,
      value: String(coldStart.tokenRequests),
      target: `= ${merchantCount}`,
      met: coldStart.tokenRequests === merchantCount,
      detail:
        `${coldStart.tokenRequestedEvents} token-requested events; ${coldStart.lockWaitsGivenUp} lock waits given up, ` +
        `${coldStart.lockTakeovers} taken over; ` +
        `${coldStart.storeErrors} store errors${commandList(coldStart.storeErrorsBy)}; ${coldStart.redisCommandTotal} Redis commands; ` +
        `${ms(coldStart.wallMs)} wall${cpu(coldStart.workerCpuMs, coldStart.calls)}${failures(coldStart.failedCalls, coldStart.firstError)}`,
    },
    {
      topology,
      id: '2',
      figure: `Time to first token per call, p50 / p99 (emulator token latency ${tokenLatencyMs} ms)`,
      value: `${ms(coldStart.timeToToken.p50)} / ${ms(coldStart.timeToToken.p99)}`,
      target: `p99 ≤ ${tokenLatencyMs + 10} ms`,
      met: p99OverDelay <= 10,
      detail:
        `p99 − latency ${ms(p99OverDelay)}; max ${ms(coldStart.timeToToken.max)}; ` +
        `holders ${summary(coldStart.holdersTimeToToken)}; from Redis ${summary(coldStart.waitersTimeToToken)}, ` +
        `each after its holder ${summary(coldStart.waiterLag)}`,
    },
    {
      topology,
      id: '2',
      figure: `  context: the same in the unmeasured first round${topology === topologies[0] ? ' (processes fresh from the fork)' : ''}`,
      value: `${ms(warmUp.timeToToken.p50)} / ${ms(warmUp.timeToToken.p99)}`,
      target: '',
      met: undefined,
      detail: `${warmUp.tokenRequests} token requests; ${warmUp.lockWaitsGivenUp} lock waits given up; ${warmUp.storeErrors} store errors${failures(warmUp.failedCalls, warmUp.firstError)}`,
    },
    {
      topology,
      id: '3',
      figure: `Steady state: Redis commands per API call (${steadyState.apiCalls} calls, all nodes)`,
      value: fixed(steadyState.commandsPerCall, 3),
      target: '= 0',
      met: steadyState.redisCommandTotal === 0,
      detail:
        `${steadyState.redisCommandTotal} commands${commandList(steadyState.redisCommands)}; ` +
        `Redis quiet ${steadyState.settledAfterMs < 0 ? 'NEVER (measured anyway)' : `after ${ms(steadyState.settledAfterMs)}`}; ` +
        `${steadyState.tokenRequests} token requests; ${steadyState.emulatorApiCalls} API calls at the emulator; ` +
        `${ms(steadyState.wallMs)}${failures(steadyState.failedCalls, steadyState.firstError)}`,
    },
    {
      topology,
      id: '4',
      figure: `SIGKILLed holders: token requests after the kill until ${holderKill.survivors} survivors hold every token`,
      value: String(holderKill.tokenRequestsAfterKill),
      target: `≤ ${merchantCount}`,
      met: holderKill.tokenRequestsAfterKill <= merchantCount,
      detail:
        `${holderKill.holdersKilled} of ${settings.firstMovers} first movers killed mid-request ` +
        `(${holderKill.tokenRequestsBeforeKill} requests before the kill${holderKill.holderAnsweredBeforeKill ? ', one ANSWERED before the kill' : ''}); ` +
        `${holderKill.lockWaitsGivenUp} lock waits given up, ${holderKill.lockTakeovers} taken over; ${holderKill.storeErrors} store errors` +
        failures(holderKill.failedCalls, holderKill.firstError),
    },
    {
      topology,
      id: '4',
      figure: '  survivors: time to token per call, p50 / p99',
      value: `${ms(holderKill.survivorTimeToToken.p50)} / ${ms(holderKill.survivorTimeToToken.p99)}`,
      target: '',
      met: undefined,
      detail:
        `after the kill: p50 ${ms(holderKill.survivorAfterKill.p50)}, p99 ${ms(holderKill.survivorAfterKill.p99)}; ` +
        `last survivor done ${ms(holderKill.allDoneAfterKillMs)} after the kill${cpu(holderKill.survivorCpuMs, holderKill.calls)}`,
    },
    ...wake.map(
      (round): Row => ({
        topology,
        id: '5',
        figure: `Waiters woken over pub/sub: their token after the holder's, p50 / p99 (${round.workers} workers × ${round.merchants} merchants)`,
        value: `${ms(round.woken.p50)} / ${ms(round.woken.p99)}`,
        target: 'p99 ≤ 10 ms',
        met: round.woken.p99 <= 10,
        detail:
          `median of ${round.rounds} cold rounds; baseline, the same polling every 50 ms (wakeWaiters: false): ` +
          `${ms(round.polling.p50)} / ${ms(round.polling.p99)}, p50 ${fixed(round.polling.p50 / round.woken.p50, 1)}× the woken; ` +
          `token requests per round ${[...new Set(round.tokenRequests)].join(' or ')} (${round.merchants} merchants)`,
      }),
    ),
  ];
}

function fixed(value: number, digits = 2): string {
  return Number.isNaN(value) ? 'n/a' : value.toFixed(digits);
}

function ms(value: number): string {
  if (Number.isNaN(value)) return 'n/a';
  return `${Math.abs(value) < 10 ? value.toFixed(1) : Math.round(value)} ms`;
}

function cpu(cpuMs: number | undefined, calls: number): string {
  if (cpuMs === undefined) return '';
  return `; workers' CPU ${(cpuMs / 1000).toFixed(1)} s (${(cpuMs / calls).toFixed(2)} ms per call)`;
}

function summary(latency: LatencySummary): string {
  return latency.count === 0 ? 'none' : `${ms(latency.p50)} / ${ms(latency.p99)} (${latency.count})`;
}

function commandList(commands: Record<string, number>): string {
  const entries = Object.entries(commands).sort(([, a], [, b]) => b - a);
  return entries.length === 0 ? '' : ` (${entries.map(([command, calls]) => `${command} ${calls}`).join(', ')})`;
}

function printRows(table: readonly Row[]): void {
  printTable(
    ['topology', '#', 'figure', 'result', 'target', 'met', 'detail'],
    table.map((row) => [row.topology, row.id, row.figure, row.value, row.target, metCell(row.met), row.detail]),
  );
}

const totalSeconds = (performance.now() - runStarted) / 1000;
printRows(rows);
const loadAtEnd = loadavg()[0] ?? 0;
process.stdout.write(
  `\n${machine.cpuModel}, ${machine.cores} cores, ${fixed(machine.memoryBytes / 2 ** 30, 1)} GB, Node ${machine.node}; ` +
    `load average ${fixed(machine.loadAverageAtStart)} → ${fixed(loadAtEnd)}; forks ${fixed(forkSeconds, 0)} s, total ${fixed(totalSeconds, 0)} s\n`,
);
if (Math.max(machine.loadAverageAtStart, loadAtEnd) > machine.cores) {
  process.stdout.write('Note: the load average exceeded the core count: other work shared the CPUs.\n');
}
const output = new URL('../fleet-results.json', import.meta.url);
await writeFile(
  output,
  `${JSON.stringify(
    {
      date: new Date().toISOString(),
      machine: { ...machine, loadAverageAtEnd: loadAtEnd },
      durationSeconds: Math.round(totalSeconds),
      forkSeconds: Math.round(forkSeconds * 10) / 10,
      settings: { ...settings, topology: topologyFlag },
      table: rows,
      results,
    },
    null,
    2,
  )}\n`,
);
process.stdout.write(`Wrote ${output.pathname}\n`);
