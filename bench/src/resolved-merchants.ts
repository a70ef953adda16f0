/**
 * Figure 7: merchants resolved on demand. A million i'mport merchants live behind `resolveMerchant`, a simulated
 * database that answers after 1 ms and makes each merchant's settings from its id (nothing is built up front); a
 * registry bounded by `maxActiveMerchants` serves first calls to 100,000 distinct merchants of them. Reports the heap
 * the registry keeps once they are done, the token requests it sent, and how much a first call adds to the
 * resolver's own time.
 */
import { createMerchantRegistry, type MerchantSettings } from '@x/core';
import { createIamportProvider, validateIamportSettings } from '@x/iamport';
import { benchCredentials } from './bench-credentials.js';
import { collectGarbage } from './collect-garbage.js';
import { latencySummary } from './statistics.js';

/** What one run measures; the figure runs it at two active-set sizes. */
export interface ResolvedMerchantsSettings {
  /** Merchants the resolver knows: ids `merchant-0000000` to `merchant-0999999`. */
  merchants: number;
  /** Distinct merchants called once each, spread over all of them. */
  called: number;
  /** The registry's `maxActiveMerchants`. */
  activeMerchants: number;
  /** Distinct credentials the merchants share (merchant `i` has credentials `i mod credentials`). */
  credentials: number;
  /** First calls made one at a time after the others, each timed; 0 for none. */
  latencySamples: number;
}

export interface ResolvedMerchantsResult extends ResolvedMerchantsSettings {
  /** (Heap after GC once the merchants were called − heap after GC before the registry existed), bytes. */
  retainedBytes: number;
  /** Token requests the registry sent (counted at its `fetch`). */
  tokenRequests: number;
  /** Times the registry asked the resolver. */
  resolves: number;
  /** API calls that reached the (local) API without a bearer token: must be 0. */
  withoutBearer: number;
  /** First calls that failed: must be 0. */
  failures: number;
  /** From the first of the bulk calls to the last, milliseconds. */
  bulkMs: number;
  /** Timed first calls, one at a time: each call's latency, and the part of it the resolver itself took. */
  latency?: { callP50Ms: number; callP99Ms: number; resolverP50Ms: number; addedP50Ms: number; addedP99Ms: number } | undefined;
}

const concurrency = 64;
/**
 * Walks the merchants in a stride coprime to both counts: the `called` merchants are spread over the million, and any
 * `credentials` consecutive ones have distinct credentials, so the active set holds as many caches as merchants and
 * a credential comes back only after its last merchant left the active set (its token must then come from the store).
 */
const stride = 7_919;
const resolverLatencyMs = 1;
const apiPath = '/payments/imp_bench';

const merchantId = (index: number): string => `merchant-${String(index).padStart(7, '0')}`;

/** Runs in `resolved-merchants-process.ts`, on the built packages (see there). */
export async function measureResolvedMerchants(emulatorUrl: string, settings: ResolvedMerchantsSettings): Promise<ResolvedMerchantsResult> {
  const { merchants, called, activeMerchants, credentials, latencySamples } = settings;
  if (called + latencySamples > merchants) throw new RangeError('resolved merchants: more calls than merchants');
  const nth = (step: number): number => (step * stride) % merchants;

  let resolves = 0;
  /** The resolver's own time of the call being timed; only one is timed at once. */
  let resolverMs = 0;
  const resolveMerchant = (id: string): Promise<MerchantSettings | undefined> => {
    resolves += 1;
    const started = performance.now();
    return new Promise((resolve) => {
      setTimeout(() => {
        const index = /^merchant-(\d{7})$/.exec(id) === null ? Number.NaN : Number(id.slice(9));
        resolverMs = performance.now() - started;
        resolve(index < merchants ? { provider: 'iamport', ...benchCredentials(index % credentials), baseUrl: emulatorUrl } : undefined);
      }, resolverLatencyMs);
    });
  };

  let tokenRequests = 0;
  let withoutBearer = 0;
  // The API answers in-process at once, so a first call's latency is the registry's, the resolver's and the token's.
  const fetch: typeof globalThis.fetch = async (input, init) => {
    const url = String(input instanceof Request ? input.url : input);
    if (!url.endsWith(apiPath)) {
      tokenRequests += 1;
      return globalThis.fetch(input, init);
    }
    const authorization = new Headers(init?.headers ?? (input instanceof Request ? input.headers : undefined)).get('authorization');
    if (!authorization?.startsWith('Bearer ')) withoutBearer += 1;
    return new Response('{"ok":true}', { status: 200, headers: { 'content-type': 'application/json' } });
  };

  const createRegistry = (bound: number) =>
    createMerchantRegistry({
      providers: {
        iamport: Object.assign((options: Parameters<typeof createIamportProvider>[0]) => createIamportProvider(options), {
          validateSettings: validateIamportSettings,
        }),
      },
      resolveMerchant,
      maxActiveMerchants: bound,
      fetch,
    });
  let failures = 0;
  const firstCall = async (registry: ReturnType<typeof createRegistry>, id: string): Promise<void> => {
    try {
      const response = await registry.fetch(id)(apiPath);
      await response.arrayBuffer();
      if (!response.ok) failures += 1;
    } catch {
      failures += 1;
    }
  };

  // Module state created on first use (schemas, undici's pools) is not the registry's: a small registry creates it.
  const warmUp = createRegistry(16);
  for (let step = 0; step < 32; step += 1) await firstCall(warmUp, merchantId(nth(called + latencySamples + step)));
  await warmUp.close();
  const counted = { tokenRequests, resolves, failures };
  tokenRequests = 0;
  resolves = 0;
  failures = 0;
  if (counted.failures > 0) throw new Error('resolved merchants: the warm-up calls failed');

  const heapBeforeBytes = await collectGarbage('resolved merchants');
  const registry = createRegistry(activeMerchants);
  let next = 0;
  const bulkStarted = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < called) {
        const step = next;
        next += 1;
        await firstCall(registry, merchantId(nth(step)));
      }
    }),
  );
  const bulkMs = performance.now() - bulkStarted;
  const heapAfterBytes = await collectGarbage('resolved merchants');
  const bulk = { tokenRequests, resolves, failures };

  let latency: ResolvedMerchantsResult['latency'];
  if (latencySamples > 0) {
    const calls = new Float64Array(latencySamples);
    const added = new Float64Array(latencySamples);
    const resolver = new Float64Array(latencySamples);
    for (let sample = 0; sample < latencySamples; sample += 1) {
      const started = performance.now();
      await firstCall(registry, merchantId(nth(called + sample)));
      calls[sample] = performance.now() - started;
      resolver[sample] = resolverMs;
      added[sample] = calls[sample]! - resolverMs;
    }
    const call = latencySummary(calls);
    const own = latencySummary(resolver);
    const extra = latencySummary(added);
    latency = { callP50Ms: call.p50, callP99Ms: call.p99, resolverP50Ms: own.p50, addedP50Ms: extra.p50, addedP99Ms: extra.p99 };
  }
  await registry.close();
  return {
    ...settings,
    retainedBytes: heapAfterBytes - heapBeforeBytes,
    tokenRequests: bulk.tokenRequests,
    resolves: bulk.resolves,
    withoutBearer,
    failures,
    bulkMs,
    latency,
  };
}
