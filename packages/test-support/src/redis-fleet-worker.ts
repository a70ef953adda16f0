/**
 * One process of a test fleet (forked by redis-fleet.ts, run through tsx): a token cache per i'mport merchant, all on
 * one Redis store. The parent sends `configure`, then `call` messages; the worker answers with each API call's
 * outcome and forwards the cache's and the store's events, reduced to what the tests read (no tokens, no errors).
 */
import { type AuthFetch, createAuthFetch, createTokenCache, type TokenCache, type TokenEvent } from '@x/core';
import { createIamportProvider } from '@x/iamport';
import { createRedisTokenStore, type RedisTokenStoreEvent } from '@x/redis';
import { createClient, createCluster, type RedisClientType, type RedisClusterType } from 'redis';
import type {
  FleetCallsResult,
  FleetTokenResult,
  FleetWorkerConfig,
  FleetWorkerEvent,
  ParentMessage,
  WorkerMessage,
} from './redis-fleet.js';

const send = (message: WorkerMessage): void => {
  if (process.connected) process.send?.(message);
};

let forwarded: ReadonlySet<string> | undefined;

const report = (merchant: string, event: TokenEvent | RedisTokenStoreEvent): void => {
  if (forwarded !== undefined && !forwarded.has(event.type)) return;
  const reduced: FleetWorkerEvent = { merchant, type: event.type };
  if (event.type === 'token-requested') reduced.reason = event.reason;
  if (event.type === 'token-refreshed') reduced.source = event.source;
  if (event.type === 'lock-waited')
    Object.assign(reduced, { received: event.received, waitedMs: event.waitedMs, lockTaken: event.lockTaken });
  if (event.type === 'store-error') {
    reduced.operation = event.operation;
    // `timeout` or `failed`, and whose bound: the store's own (`RedisTokenStoreError`) or the cache's storeTimeoutMs.
    const error = event.error as { reason?: string; name?: string };
    reduced.reason = `${error.reason}${error.name === 'RedisTokenStoreError' ? ' (redis)' : ' (cache)'}`;
  }
  if (event.type === 'store-decrypt-failed') reduced.reason = event.reason;
  send({ type: 'event', event: reduced });
};

type FleetClient = RedisClientType | RedisClusterType;
let client: FleetClient | undefined;
let fetches = new Map<string, AuthFetch>();
let caches = new Map<string, TokenCache>();

let clientTarget: string | undefined;

/**
 * Starts over with new caches and, unless `keepClient` (for the same Redis), a new Redis client: a cold process,
 * without paying for a new fork.
 */
async function configure(config: FleetWorkerConfig): Promise<boolean> {
  forwarded = config.forwardEvents === undefined ? undefined : new Set(config.forwardEvents);
  const target = JSON.stringify(config.clusterUrls ?? config.redisUrl);
  const next = config.keepClient === true && client !== undefined && clientTarget === target ? client : await connectClient(config);
  clientTarget = target;
  fetches = new Map();
  caches = new Map();
  buildCaches(config, next);
  // A cluster client is open once it has the slot map; a single-node one reports readiness itself.
  return 'isReady' in next ? next.isReady : next.isOpen;
}

/** A new Redis client, the last one destroyed. */
async function connectClient(config: FleetWorkerConfig): Promise<FleetClient> {
  client?.destroy();
  const options = {
    disableOfflineQueue: true,
    socket: { connectTimeout: 500, reconnectStrategy: (retries: number) => Math.min(50 * 2 ** retries, 500) },
  };
  const next: FleetClient =
    config.clusterUrls === undefined
      ? createClient({ url: config.redisUrl, ...options })
      : createCluster({ rootNodes: config.clusterUrls.map((url) => ({ url })), defaults: options });
  client = next;
  // Without a listener node-redis' 'error' event would end the process when Redis goes away.
  next.on('error', () => {});
  // A fleet keeps serving while Redis is down: connect in the background, wait a little for it at most.
  await Promise.race([(next.connect() as Promise<unknown>).catch(() => undefined), new Promise((resolve) => setTimeout(resolve, 2_000))]);
  return next;
}

/** Caches and fetches for every merchant on `next`. */
function buildCaches(config: FleetWorkerConfig, next: FleetClient): void {
  for (const merchant of config.merchants) {
    const store = createRedisTokenStore({
      client: next,
      ...(config.encryptionKey === undefined ? { plaintext: true as const } : { encryptionKey: config.encryptionKey }),
      keyPrefix: config.keyPrefix,
      operationTimeoutMs: config.operationTimeoutMs,
      lockLeaseMs: config.lockLeaseMs,
      wakeWaiters: config.wakeWaiters,
      onEvent: (event) => report(merchant.impKey, event),
    });
    const provider = createIamportProvider({ impKey: merchant.impKey, impSecret: merchant.impSecret, baseUrl: config.iamportUrl });
    const cache = createTokenCache(provider, {
      store,
      policy: { lockWaitMs: config.lockWaitMs, storeTimeoutMs: config.storeTimeoutMs },
      onEvent: (event) => report(merchant.impKey, event),
    });
    caches.set(merchant.impKey, cache);
    fetches.set(merchant.impKey, createAuthFetch(cache));
  }
}

/** Every merchant's `getToken()`, started in one tick; each timed from that tick to its token. */
async function tokens(merchants: readonly string[]): Promise<FleetTokenResult[]> {
  const started = performance.now();
  const elapsed = (): number => Math.round((performance.now() - started) * 100) / 100;
  return Promise.all(
    merchants.map(async (merchant): Promise<FleetTokenResult> => {
      const cache = caches.get(merchant);
      if (cache === undefined) return { merchant, ok: false, error: `unknown merchant ${merchant}`, durationMs: 0 };
      try {
        await cache.getToken();
        return { merchant, ok: true, durationMs: elapsed(), doneAt: performance.timeOrigin + performance.now() };
      } catch (error) {
        return { merchant, ok: false, error: String((error as Error)?.message), durationMs: elapsed() };
      }
    }),
  );
}

/** `repeat` API calls per merchant through its auth fetch, `concurrency` in flight. */
async function calls(merchants: readonly string[], repeat: number, concurrency: number): Promise<FleetCallsResult> {
  const result: FleetCallsResult = { ok: 0, failed: 0 };
  const total = merchants.length * repeat;
  let next = 0;
  const fail = (reason: string): void => {
    result.failed += 1;
    result.firstError ??= reason;
  };
  const lane = async (): Promise<void> => {
    while (next < total) {
      const index = next++;
      const merchant = merchants[index % merchants.length]!;
      const authFetch = fetches.get(merchant);
      if (authFetch === undefined) {
        fail(`unknown merchant ${merchant}`);
        continue;
      }
      try {
        const response = await authFetch(`/payments/imp_bench_${index}`);
        await response.body?.cancel();
        if (response.ok) result.ok += 1;
        else fail(`HTTP ${response.status}`);
      } catch (error) {
        fail(String((error as Error)?.message));
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, concurrency) }, lane));
  return result;
}

process.on('message', (message: ParentMessage) => {
  if (message.type === 'exit') {
    client?.destroy();
    process.disconnect();
    return;
  }
  if (message.type === 'configure') {
    configure(message.config).then((redisReady) => send({ type: 'configured', redisReady }));
    return;
  }
  if (message.type === 'tokens') {
    tokens(message.merchants).then((results) => send({ type: 'tokens-result', id: message.id, results }));
    return;
  }
  if (message.type === 'calls') {
    calls(message.merchants, message.repeat, message.concurrency).then((result) =>
      send({ type: 'calls-result', id: message.id, ...result }),
    );
    return;
  }
  const started = performance.now();
  const authFetch = fetches.get(message.merchant);
  if (authFetch === undefined) {
    send({ type: 'result', id: message.id, ok: false, error: `unknown merchant ${message.merchant}`, durationMs: 0 });
    return;
  }
  authFetch(`/payments/imp_${message.id}`).then(
    async (response) => {
      await response.body?.cancel();
      send({
        type: 'result',
        id: message.id,
        ok: response.ok,
        status: response.status,
        durationMs: Math.round(performance.now() - started),
      });
    },
    (error: unknown) => {
      send({
        type: 'result',
        id: message.id,
        ok: false,
        error: String((error as Error)?.message),
        durationMs: Math.round(performance.now() - started),
      });
    },
  );
});

send({ type: 'ready' });
