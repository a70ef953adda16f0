/**
 * The fleet benchmark's scenarios, each on workers already forked (`@x/test-support/redis-fleet`) and reconfigured
 * cold for it: a fresh Redis client, fresh caches and a key prefix of its own, so no scenario sees another's keys.
 */
import type { IamportEmulator, IamportEmulatorMerchant } from '@x/iamport/testing';
import { type FleetTokenResult, type FleetWorker, type FleetWorkerConfig, startFleet } from '@x/test-support/redis-fleet';
import { totalCpuMs } from './fleet-cpu.js';
import { commandCalls, commandDelta, type FleetTopology } from './fleet-topology.js';
import { percentile } from './statistics.js';

/** The knobs every scenario reads. */
export interface FleetSettings {
  workers: number;
  merchants: number;
  /** The emulator's answer time for every token request (a `slow` fault on the token endpoint). */
  tokenLatencyMs: number;
  /** The answer time of the token requests the holders make in the SIGKILL scenario: long enough to kill them first. */
  holderDelayMs: number;
  /** Workers that start the SIGKILL scenario's cold round before the others: the lock holders are among them. */
  firstMovers: number;
  /** Steady state: API calls per worker and merchant. */
  callsPerMerchant: number;
  /** Steady state: API calls in flight per worker. */
  callConcurrency: number;
  /** The store's per-command time limit; `undefined` for the store's default. */
  operationTimeoutMs: number | undefined;
  /** The cache's `lockWaitMs`; `undefined` for the policy's default. */
  lockWaitMs: number | undefined;
  /** The cache's `storeTimeoutMs`; `undefined` for the policy's default. */
  storeTimeoutMs: number | undefined;
  /** The store's `lockLeaseMs`; `undefined` for the store's default. */
  lockLeaseMs: number | undefined;
  /** The store's `wakeWaiters`: `false` makes lock waiters poll (figure 5's baseline). */
  wakeWaiters: boolean;
  /** Figure 5: merchants in each of its rounds (few: the CPUs must not be the bottleneck). */
  wakeMerchants: number;
  /** Figure 5: rounds per mode. */
  wakeRounds: number;
}

/** What the scenarios share: the fleet (killed workers are replaced in it), the emulator and the Redis. */
export interface FleetContext {
  readonly fleet: FleetWorker[];
  readonly emulator: IamportEmulator;
  readonly merchants: readonly IamportEmulatorMerchant[];
  readonly topology: FleetTopology;
  /** The store's encryption key, the same in every worker. */
  readonly encryptionKey: string;
  readonly settings: FleetSettings;
  readonly log: (message: string) => void;
}

/** p50, p99 and the largest of a set of durations, in milliseconds. */
export interface LatencySummary {
  count: number;
  p50: number;
  p99: number;
  max: number;
}

export interface ColdStartResult {
  /** Token requests the emulator received: one per merchant is the target. */
  tokenRequests: number;
  /** Token requests the caches made (`token-requested` events). */
  tokenRequestedEvents: number;
  calls: number;
  failedCalls: number;
  firstError?: string;
  /** Time to token of every (worker, merchant) call, measured in the worker from the moment it started its batch. */
  timeToToken: LatencySummary;
  /** The same, only for the calls that asked the gateway themselves (the lock holders). */
  holdersTimeToToken: LatencySummary;
  /** The same, only for the calls that took the token from Redis. */
  waitersTimeToToken: LatencySummary;
  /**
   * How long after its merchant's lock holder had the token each call that took it from Redis had it (both stamped on
   * the machine's one clock): the store write, the release, the wake-up and the read.
   */
  waiterLag: LatencySummary;
  /** Lock waits that ended with this process taking the lock over (its holder failed or died). */
  lockTakeovers: number;
  /** Lock waits that ended without the holder's token (`lock-waited`, `received: false`). */
  lockWaitsGivenUp: number;
  storeErrors: number;
  /** The store errors by operation and reason (`get timeout (cache)`: the cache's storeTimeoutMs ran out first). */
  storeErrorsBy: Record<string, number>;
  /** Redis commands during the round, summed over every node (lock waiters polling the store among them). */
  redisCommandTotal: number;
  /** CPU time the workers used during the round, all of them together (`/proc`; absent elsewhere). */
  workerCpuMs?: number;
  /** From sending the first batch to the last worker's answer, in the benchmark process. */
  wallMs: number;
}

export interface SteadyStateResult {
  apiCalls: number;
  failedCalls: number;
  firstError?: string;
  /** API calls the emulator received, and token requests during the measured calls (target 0). */
  emulatorApiCalls: number;
  tokenRequests: number;
  /** Redis commands during the measured calls, summed over every node, by command. */
  redisCommands: Record<string, number>;
  redisCommandTotal: number;
  commandsPerCall: number;
  /** How long after the warm-up Redis went quiet (no command for 250 ms) and the measurement began; -1 if it never did. */
  settledAfterMs: number;
  wallMs: number;
}

export interface HolderKillResult {
  /** Processes SIGKILLed: those whose cache asked the gateway for at least one merchant. */
  holdersKilled: number;
  survivors: number;
  /** Token requests the emulator had received when the holders were killed (one per merchant if the lock held). */
  tokenRequestsBeforeKill: number;
  /** Token requests from the kill until every survivor had a token for every merchant: target ≤ merchants. */
  tokenRequestsAfterKill: number;
  /** Whether any holder's own request had been answered before the kill (then it was no longer mid-request). */
  holderAnsweredBeforeKill: boolean;
  calls: number;
  failedCalls: number;
  firstError?: string;
  /** Every survivor call's time to token, from the moment its worker started the batch. */
  survivorTimeToToken: LatencySummary;
  /** Every survivor call's time to token after the kill (0 for a token it already had). */
  survivorAfterKill: LatencySummary;
  /** From the kill to the last survivor's answer. */
  allDoneAfterKillMs: number;
  lockWaitsGivenUp: number;
  /** Lock waits that ended with the survivor taking the dead holder's lock over. */
  lockTakeovers: number;
  storeErrors: number;
  /** CPU time the survivors used from the kill until the last of them was done (`/proc`; absent elsewhere). */
  survivorCpuMs?: number;
  /** Time to fork the replacements of the killed workers, when another topology follows. */
  replacedInMs?: number;
}

const summarize = (values: readonly number[]): LatencySummary => ({
  count: values.length,
  p50: hundredths(percentile(values, 50)),
  p99: hundredths(percentile(values, 99)),
  max: hundredths(values.length === 0 ? Number.NaN : Math.max(...values)),
});

const hundredths = (value: number): number => Math.round(value * 100) / 100;
const delay = (milliseconds: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, milliseconds));

async function until(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const started = performance.now();
  while (!condition()) {
    if (performance.now() - started > timeoutMs) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await delay(5);
  }
}

/**
 * Reconfigures every worker cold on `keyPrefix` (new client, new caches, keys no earlier scenario wrote), revokes the
 * emulator's tokens, queues `faults` and then the fixed token latency, and zeroes its counters.
 */
async function reset(
  context: FleetContext,
  keyPrefix: string,
  faults: Parameters<IamportEmulator['fault']>[0][] = [],
  keepClient = false,
): Promise<void> {
  const { emulator, fleet, settings } = context;
  const config: FleetWorkerConfig = {
    ...context.topology.connection,
    iamportUrl: emulator.url,
    merchants: context.merchants,
    encryptionKey: context.encryptionKey,
    keyPrefix,
    operationTimeoutMs: settings.operationTimeoutMs,
    lockWaitMs: settings.lockWaitMs,
    storeTimeoutMs: settings.storeTimeoutMs,
    lockLeaseMs: settings.lockLeaseMs,
    wakeWaiters: settings.wakeWaiters,
    keepClient,
    // What the figures read; the rest (a token-refreshed per call) would only load IPC during the measurement.
    forwardEvents: ['token-requested', 'lock-waited', 'store-error'],
  };
  const connected = await Promise.all(fleet.map((worker) => worker.configure(config)));
  const failed = connected.filter((ready) => !ready).length;
  if (failed > 0) throw new Error(`${failed} of ${fleet.length} workers did not connect to Redis (${context.topology.name})`);
  emulator.revoke();
  emulator.clearFaults();
  for (const fault of faults) emulator.fault(fault);
  emulator.fault({ kind: 'slow', delayMs: settings.tokenLatencyMs, count: Number.POSITIVE_INFINITY, target: 'token' });
  emulator.resetCounters();
}

const cpuOf = (workers: readonly FleetWorker[]): number | undefined => totalCpuMs(workers.map((worker) => worker.process.pid));
const difference = (after: number | undefined, before: number | undefined): number | undefined =>
  after === undefined || before === undefined ? undefined : Math.round(after - before);

const eventsOf = (workers: readonly FleetWorker[], type: string) =>
  workers.flatMap((worker) => worker.events.filter((event) => event.type === type));

const lockWaitsGivenUp = (workers: readonly FleetWorker[]): number =>
  eventsOf(workers, 'lock-waited').filter((event) => event.received === false && event.lockTaken !== true).length;

const countBy = (keys: readonly string[]): Record<string, number> => {
  const counts: Record<string, number> = {};
  for (const key of keys) counts[key] = (counts[key] ?? 0) + 1;
  return counts;
};

const lockTakeovers = (workers: readonly FleetWorker[]): number =>
  eventsOf(workers, 'lock-waited').filter((event) => event.lockTaken === true).length;

/** Waits until Redis counts no new command over `windowMs`; resolves how long that took, or -1 after `timeoutMs`. */
async function quiet(ports: readonly number[], windowMs: number, timeoutMs: number): Promise<number> {
  const started = performance.now();
  const total = async (): Promise<number> => [...(await commandCalls(ports)).values()].reduce((sum, calls) => sum + calls, 0);
  let previous = await total();
  while (performance.now() - started < timeoutMs) {
    await delay(windowMs);
    const current = await total();
    if (current === previous) return Math.round(performance.now() - started);
    previous = current;
  }
  return -1;
}

/**
 * Figures 1 and 2: every worker asks for every merchant's token at once, cold (new caches, new Redis client, keys no
 * one wrote). `label` names the key prefix: the benchmark runs one unmeasured round first, so that the measured one
 * times the token exchange and not the first use of code in freshly forked processes.
 */
export async function measureColdStart(context: FleetContext, label = 'cold', keepClient = false): Promise<ColdStartResult> {
  const { fleet, emulator, merchants } = context;
  await reset(context, `bench-fleet-${context.topology.name}-${label}:`, [], keepClient);
  const keys = merchants.map((merchant) => merchant.impKey);
  const commandsBefore = await commandCalls(context.topology.ports);
  const cpuBefore = cpuOf(fleet);
  const started = performance.now();
  const perWorker = await Promise.all(fleet.map((worker) => worker.tokens(keys)));
  const wallMs = performance.now() - started;
  const workerCpuMs = difference(cpuOf(fleet), cpuBefore);
  const commands = commandDelta(commandsBefore, await commandCalls(context.topology.ports));

  const asked = new Set<string>();
  fleet.forEach((worker, index) => {
    for (const event of worker.events) if (event.type === 'token-requested') asked.add(`${index}\u0000${event.merchant}`);
  });
  const holders: number[] = [];
  const waiters: number[] = [];
  /** Per merchant: when its first holder had the token. */
  const heldAt = new Map<string, number>();
  const waitersDone: Array<{ merchant: string; doneAt: number }> = [];
  perWorker.forEach((results, index) => {
    for (const result of results) {
      if (!result.ok) continue;
      const holder = asked.has(`${index}\u0000${result.merchant}`);
      (holder ? holders : waiters).push(result.durationMs);
      if (result.doneAt === undefined) continue;
      if (holder) heldAt.set(result.merchant, Math.min(heldAt.get(result.merchant) ?? Number.POSITIVE_INFINITY, result.doneAt));
      else waitersDone.push({ merchant: result.merchant, doneAt: result.doneAt });
    }
  });
  const lags = waitersDone.flatMap(({ merchant, doneAt }) => {
    const held = heldAt.get(merchant);
    return held === undefined ? [] : [doneAt - held];
  });
  const results = perWorker.flat();
  const failed = results.filter((result) => !result.ok);
  return {
    tokenRequests: emulator.counters.tokenRequests,
    tokenRequestedEvents: eventsOf(fleet, 'token-requested').length,
    calls: results.length,
    failedCalls: failed.length,
    ...(failed[0]?.error === undefined ? {} : { firstError: failed[0].error }),
    timeToToken: summarize(results.filter((result) => result.ok).map((result) => result.durationMs)),
    holdersTimeToToken: summarize(holders),
    waitersTimeToToken: summarize(waiters),
    waiterLag: summarize(lags),
    lockWaitsGivenUp: lockWaitsGivenUp(fleet),
    lockTakeovers: lockTakeovers(fleet),
    storeErrors: eventsOf(fleet, 'store-error').length,
    storeErrorsBy: countBy(eventsOf(fleet, 'store-error').map((event) => `${event.operation} ${event.reason}`)),
    redisCommandTotal: Object.values(commands).reduce((sum, calls) => sum + calls, 0),
    ...(workerCpuMs === undefined ? {} : { workerCpuMs }),
    wallMs: hundredths(wallMs),
  };
}

/**
 * Figure 3: after a warm-up round (every worker calls every merchant once, on the tokens the cold start left in its
 * memory), `callsPerMerchant` API calls per worker and merchant, with `INFO commandstats` read from every node before
 * and after.
 */
export async function measureSteadyState(context: FleetContext): Promise<SteadyStateResult> {
  const { fleet, emulator, merchants, settings, topology } = context;
  const keys = merchants.map((merchant) => merchant.impKey);
  const warm = await Promise.all(fleet.map((worker) => worker.calls(keys, 1, settings.callConcurrency)));
  const warmFailed = warm.reduce((sum, result) => sum + result.failed, 0);
  if (warmFailed > 0)
    context.log(`steady state: ${warmFailed} warm-up calls failed (${warm.find((result) => result.failed > 0)?.firstError})`);

  // A cold round that went badly (timed-out store calls, requests given up) can leave a late lock release or retry:
  // steady state starts once Redis has seen no command for a while.
  const settledAfterMs = await quiet(topology.ports, 250, 10_000);
  emulator.resetCounters();
  const before = await commandCalls(topology.ports);
  const started = performance.now();
  const results = await Promise.all(fleet.map((worker) => worker.calls(keys, settings.callsPerMerchant, settings.callConcurrency)));
  const wallMs = performance.now() - started;
  const after = await commandCalls(topology.ports);

  const redisCommands = commandDelta(before, after);
  const redisCommandTotal = Object.values(redisCommands).reduce((sum, calls) => sum + calls, 0);
  const apiCalls = results.reduce((sum, result) => sum + result.ok + result.failed, 0);
  const firstError = results.find((result) => result.firstError !== undefined)?.firstError;
  return {
    apiCalls,
    failedCalls: results.reduce((sum, result) => sum + result.failed, 0),
    ...(firstError === undefined ? {} : { firstError }),
    emulatorApiCalls: emulator.counters.apiCalls,
    tokenRequests: emulator.counters.tokenRequests,
    redisCommands,
    redisCommandTotal,
    commandsPerCall: apiCalls === 0 ? Number.NaN : redisCommandTotal / apiCalls,
    settledAfterMs,
    wallMs: hundredths(wallMs),
  };
}

/**
 * Figure 4: fresh keys, and the first `holderDelayMs`-slow answers for as many token requests as there are merchants.
 * The first movers start a cold round; once the gateway has a request for every merchant, the rest of the fleet starts
 * its own (and waits on the locks); then every process whose cache asked the gateway is SIGKILLed, mid-request. The
 * survivors' token requests are counted from the kill until each of them has every merchant's token.
 */
export async function measureHolderKill(context: FleetContext, replaceKilled: boolean): Promise<HolderKillResult> {
  const { fleet, emulator, merchants, settings } = context;
  await reset(context, `bench-fleet-${context.topology.name}-kill:`, [
    { kind: 'slow', delayMs: settings.holderDelayMs, count: merchants.length, target: 'token' },
  ]);
  const keys = merchants.map((merchant) => merchant.impKey);
  const firstMovers = fleet.slice(0, settings.firstMovers);
  const rest = fleet.slice(settings.firstMovers);
  const pending = new Map<FleetWorker, { sentAt: number; results: Promise<FleetTokenResult[]>; settled: boolean }>();
  const start = (worker: FleetWorker): void => {
    const entry = { sentAt: performance.now(), results: worker.tokens(keys), settled: false };
    void entry.results.then(() => {
      entry.settled = true;
    });
    pending.set(worker, entry);
  };

  const firstMoverStarted = performance.now();
  for (const worker of firstMovers) start(worker);
  // The token-requested event precedes the HTTP request: wait for the gateway to have every merchant's request too.
  const requestedBy = (key: string): boolean =>
    firstMovers.some((worker) => worker.events.some((event) => event.type === 'token-requested' && event.merchant === key));
  await until(
    () => keys.every((key) => emulator.countersFor(key).tokenRequests >= 1 && requestedBy(key)),
    Math.max(30_000, settings.holderDelayMs),
    'a token request for every merchant',
  );
  const holders = firstMovers.filter((worker) => worker.events.some((event) => event.type === 'token-requested'));
  for (const worker of rest) start(worker);
  // Let the rest read the store and find the locks taken, so they are waiting when the holders die.
  await delay(250);
  const holderAnsweredBeforeKill = holders.some((worker) => pending.get(worker)?.settled) || emulator.counters.tokensIssued > 0;
  if (performance.now() - firstMoverStarted > settings.holderDelayMs) {
    context.log(
      `SIGKILL: staging took longer than --holder-delay-ms (${settings.holderDelayMs} ms); some holders may have had their token`,
    );
  }

  const tokenRequestsBeforeKill = emulator.counters.tokenRequests;
  const killedAt = performance.now();
  await Promise.all(holders.map((worker) => worker.kill()));
  const survivors = fleet.filter((worker) => !holders.includes(worker));
  const survivorCpuBefore = cpuOf(survivors);
  context.log(`SIGKILL: killed ${holders.length} holders, waiting for ${survivors.length} survivors`);

  let timer: NodeJS.Timeout | undefined;
  const finished = await Promise.race([
    Promise.all(
      survivors.map(async (worker) => {
        const entry = pending.get(worker)!;
        const results = await entry.results;
        return { entry, results, doneAt: performance.now() };
      }),
    ),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('SIGKILL: the survivors had no tokens within 120 s')), 120_000);
    }),
  ]).finally(() => clearTimeout(timer));
  const tokenRequestsAfterKill = emulator.counters.tokenRequests - tokenRequestsBeforeKill;
  const survivorCpuMs = difference(cpuOf(survivors), survivorCpuBefore);

  const results = finished.flatMap(({ results }) => results);
  const failed = results.filter((result) => !result.ok);
  const afterKill = finished.flatMap(({ entry, results }) =>
    results.filter((result) => result.ok).map((result) => Math.max(0, entry.sentAt + result.durationMs - killedAt)),
  );
  const result: HolderKillResult = {
    holdersKilled: holders.length,
    survivors: survivors.length,
    tokenRequestsBeforeKill,
    tokenRequestsAfterKill,
    holderAnsweredBeforeKill,
    calls: results.length,
    failedCalls: failed.length,
    ...(failed[0]?.error === undefined ? {} : { firstError: failed[0].error }),
    survivorTimeToToken: summarize(results.filter((result) => result.ok).map((result) => result.durationMs)),
    survivorAfterKill: summarize(afterKill),
    allDoneAfterKillMs: hundredths(Math.max(...finished.map(({ doneAt }) => doneAt)) - killedAt),
    lockWaitsGivenUp: lockWaitsGivenUp(survivors),
    lockTakeovers: lockTakeovers(survivors),
    storeErrors: eventsOf(survivors, 'store-error').length,
    ...(survivorCpuMs === undefined ? {} : { survivorCpuMs }),
  };
  emulator.clearFaults();

  if (replaceKilled && holders.length > 0) {
    const forkStarted = performance.now();
    const replacements = await startFleet(holders.length);
    for (const [index, worker] of holders.entries()) fleet[fleet.indexOf(worker)] = replacements[index]!;
    result.replacedInMs = hundredths(performance.now() - forkStarted);
  }
  return result;
}

/** Figure 5: how long after the lock holder the waiters have the token, woken over pub/sub and polling. */
export interface WakeResult {
  /** Median over the rounds of each round's p50 and p99, pub/sub. */
  woken: { p50: number; p99: number };
  /** The same with `wakeWaiters: false`: the waiters poll every 50 ms. */
  polling: { p50: number; p99: number };
  /** Token requests per round (each should be the merchants of the round). */
  tokenRequests: number[];
  rounds: number;
  merchants: number;
  /** Workers in the rounds: a fifth of the fleet, then all of it (every one woken at the same instant). */
  workers: number;
}

/**
 * Figure 5: cold rounds (new caches, no token) of every worker on a few merchants (so the CPUs are not what the calls
 * wait for), on clients and lock subscribers already open, alternately
 * with waiters woken over pub/sub and polling: each waiter's token time less its merchant's holder's (`waiterLag`).
 */
export async function measureWake(context: FleetContext, workers = context.fleet.length): Promise<WakeResult> {
  const { settings } = context;
  context = { ...context, fleet: context.fleet.slice(0, workers) };
  const merchants = context.merchants.slice(0, settings.wakeMerchants);
  const over = { woken: { p50: [] as number[], p99: [] as number[] }, polling: { p50: [] as number[], p99: [] as number[] } };
  const tokenRequests: number[] = [];
  // Processes that have been up a while: one unmeasured round opens every worker's client and lock subscriber, which
  // the measured rounds keep (new caches and keys each), as a long-running fleet keeps them between refreshes.
  await measureColdStart({ ...context, merchants }, `wake-${workers}-warm-up`);
  for (let round = 0; round < settings.wakeRounds; round += 1) {
    // Alternated, and the order flipped every round, so neither mode always runs first.
    const modes: Array<keyof typeof over> = round % 2 === 0 ? ['woken', 'polling'] : ['polling', 'woken'];
    for (const mode of modes) {
      const result = await measureColdStart(
        { ...context, merchants, settings: { ...settings, wakeWaiters: mode === 'woken' } },
        `wake-${workers}-${mode}-${round}`,
        true,
      );
      tokenRequests.push(result.tokenRequests);
      over[mode].p50.push(result.waiterLag.p50);
      over[mode].p99.push(result.waiterLag.p99);
    }
  }
  const median = (values: number[]): number => hundredths(percentile(values, 50));
  return {
    woken: { p50: median(over.woken.p50), p99: median(over.woken.p99) },
    polling: { p50: median(over.polling.p50), p99: median(over.polling.p99) },
    tokenRequests,
    rounds: settings.wakeRounds,
    merchants: merchants.length,
    workers: context.fleet.length,
  };
}
