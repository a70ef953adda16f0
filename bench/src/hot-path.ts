/**
 * Figure 1: a cached `getToken()` against an `async` function returning a constant, the cheapest thing that can
 * answer a token-shaped `await`. Each benchmark iteration awaits a batch of calls, so the harness's own timing
 * (two clock reads per iteration) does not drown the few tens of nanoseconds being compared.
 */

import { type AccessToken, createMerchantRegistry, createTokenCache } from '@x/core';
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
  registryNs: number;
  handWrittenNs: number;
  /** A pre-resolved promise behind one `performance.now()`: the floor of any freshness check that reads the clock. */
  clockFloorNs: number;
  /** One `performance.now()` call on this machine. */
  clockReadNs: number;
  /** Time ratios against the baseline (lower is better), medians of each round's ratio. */
  cacheRatio: number;
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
    registry: () => merchantTokens.getToken(),
    handWritten: () => handWritten.getToken(),
    clockFloor,
  } satisfies Record<string, () => Promise<unknown>>;
  type Name = keyof typeof subjects;

  const perRound: Record<Name, number[]> = { baseline: [], cache: [], registry: [], handWritten: [], clockFloor: [] };
  const names = Object.keys(subjects) as Name[];
  for (let round = 0; round < rounds; round += 1) {
    const bench = new Bench({ time: 300, warmupTime: 100, throws: true });
    // Rotate the order each round: whatever runs first or last in a round should not always be the same subject.
    const order = names.map((_, index) => names[(index + round) % names.length]!);
    for (const name of order) {
      const call = subjects[name];
      bench.add(name, async () => {
        for (let index = 0; index < batch; index += 1) await call();
      });
    }
    globalThis.gc?.();
    await bench.run();
    for (const task of bench.tasks) {
      const result = task.result;
      if (result.state !== 'completed') throw new Error(`hot path: ${task.name} did not complete (${result.state})`);
      perRound[task.name as Name].push((result.latency.p50 * 1e6) / batch);
    }
  }
  const ratio = (name: Name): number => median(perRound[name].map((value, round) => value / perRound.baseline[round]!));
  return {
    baselineNs: median(perRound.baseline),
    cacheNs: median(perRound.cache),
    registryNs: median(perRound.registry),
    handWrittenNs: median(perRound.handWritten),
    cacheRatio: ratio('cache'),
    registryRatio: ratio('registry'),
    handWrittenRatio: ratio('handWritten'),
    clockFloorNs: median(perRound.clockFloor),
    clockFloorRatio: ratio('clockFloor'),
    clockReadNs: measureClockRead(),
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
