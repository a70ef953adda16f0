/**
 * Figure 1: a cached `getToken()` against an `async` function returning a constant, the cheapest thing that can
 * answer a token-shaped `await`. Each benchmark iteration awaits a batch of calls, so the harness's own timing
 * (two clock reads per iteration) does not drown the few tens of nanoseconds being compared.
 */

import diagnostics from 'node:diagnostics_channel';
import { type AccessToken, createMerchantRegistry, createTokenCache, tokenEventChannelName, tokenRequestChannelName } from '@x/core';
import { Bench } from 'tinybench';
import { createBenchProvider } from './bench-provider.js';
import { createHandWrittenToken } from './peers/hand-written-token.js';
import { median } from './statistics.js';

const batch = 1_000;
const rounds = 3;

export interface HotPathResult {
  /** Nanoseconds per call, medians over the rounds. */
  baselineNs: number;
  cacheNs: number;
  /** The same cache while a subscriber listens on both diagnostics channels (token requests and events). */
  observedNs: number;
  registryNs: number;
  handWrittenNs: number;
  /** A pre-resolved promise behind one `performance.now()`: the floor of any freshness check that reads the clock. */
  clockFloorNs: number;
  /** One `performance.now()` call on this machine. */
  clockReadNs: number;
  /** Time ratios against the baseline (lower is better), medians of each round's ratio. */
  cacheRatio: number;
  /** The observed cache against the same cache with no subscriber, medians of each round's ratio. */
  observedRatio: number;
  registryRatio: number;
  handWrittenRatio: number;
  clockFloorRatio: number;
}

export async function measureHotPath(): Promise<HotPathResult> {
  const constant: AccessToken = Object.freeze({ accessToken: 'bench-token', tokenType: 'Bearer', expiresAt: Date.now() + 3_600_000 });
  const baseline = async (): Promise<AccessToken> => constant;

  const cache = createTokenCache(createBenchProvider('http://127.0.0.1:1'));
  await cache.getToken();

  const registry = createMerchantRegistry({
    providers: { bench: (settings: { baseUrl: string }) => createBenchProvider(settings.baseUrl) },
    merchants: { shop: { provider: 'bench', baseUrl: 'http://127.0.0.1:1' } },
  });
  const merchantTokens = registry.tokens('shop');
  await merchantTokens.getToken();

  // The peer most apps write by hand: a module-level token and an expiry check, here already holding a token.
  const handWritten = createHandWrittenToken(async () => ({ accessToken: 'bench-token', expiresAt: Date.now() + 3_600_000 }));
  await handWritten.getToken();

  const resolved = Promise.resolve(constant);
  const clockFloor = (): Promise<AccessToken> => (performance.now() >= 0 ? resolved : baseline());

  const subjects = {
    baseline,
    cache: () => cache.getToken(),
    observed: () => cache.getToken(),
    registry: () => merchantTokens.getToken(),
    handWritten: () => handWritten.getToken(),
    clockFloor,
  } satisfies Record<string, () => Promise<unknown>>;
  type Name = keyof typeof subjects;

  const perRound: Record<Name, number[]> = { baseline: [], cache: [], observed: [], registry: [], handWritten: [], clockFloor: [] };
  // Subscribed only while the observed subject runs: a channel's subscribers are process-wide.
  const observers = subscribeToTokenChannels();
  const names = Object.keys(subjects) as Name[];
  for (let round = 0; round < rounds; round += 1) {
    const bench = new Bench({ time: 300, warmupTime: 100, throws: true });
    // Rotate the order each round: whatever runs first or last in a round should not always be the same subject.
    const order = names.map((_, index) => names[(index + round) % names.length]!);
    for (const name of order) {
      const call = subjects[name];
      bench.add(
        name,
        async () => {
          for (let index = 0; index < batch; index += 1) await call();
        },
        name === 'observed' ? { beforeAll: observers.subscribe, afterAll: observers.unsubscribe } : {},
      );
    }
    globalThis.gc?.();
    await bench.run();
    for (const task of bench.tasks) {
      const result = task.result;
      if (result.state !== 'completed') throw new Error(`hot path: ${task.name} did not complete (${result.state})`);
      perRound[task.name as Name].push((result.latency.p50 * 1e6) / batch);
    }
  }
  const ratio = (name: Name, against: Name = 'baseline'): number =>
    median(perRound[name].map((value, round) => value / perRound[against][round]!));
  return {
    baselineNs: median(perRound.baseline),
    cacheNs: median(perRound.cache),
    registryNs: median(perRound.registry),
    handWrittenNs: median(perRound.handWritten),
    cacheRatio: ratio('cache'),
    observedNs: median(perRound.observed),
    observedRatio: ratio('observed', 'cache'),
    registryRatio: ratio('registry'),
    handWrittenRatio: ratio('handWritten'),
    clockFloorNs: median(perRound.clockFloor),
    clockFloorRatio: ratio('clockFloor'),
    clockReadNs: measureClockRead(),
  };
}

/** A subscriber on both diagnostics channels of the token layer, as a tracer or a metrics library would have. */
function subscribeToTokenChannels(): { subscribe: () => void; unsubscribe: () => void } {
  let published = 0;
  const count = (): void => {
    published += 1;
  };
  const tracing = { start: count, end: count, asyncStart: count, asyncEnd: count, error: count };
  const requests = diagnostics.tracingChannel(tokenRequestChannelName);
  return {
    subscribe: () => {
      requests.subscribe(tracing);
      diagnostics.subscribe(tokenEventChannelName, count);
    },
    unsubscribe: () => {
      requests.unsubscribe(tracing);
      diagnostics.unsubscribe(tokenEventChannelName, count);
      // A hit publishes nothing: a message here would mean the hot path left its fast lane.
      if (published > 0) throw new Error(`hot path: ${published} diagnostics messages published by cached getToken() calls`);
    },
  };
}

function measureClockRead(): number {
  const calls = 1_000_000;
  let sink = 0;
  const started = process.hrtime.bigint();
  for (let index = 0; index < calls; index += 1) sink += performance.now();
  const elapsed = Number(process.hrtime.bigint() - started);
  return sink > 0 ? elapsed / calls : Number.NaN;
}
