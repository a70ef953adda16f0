/**
 * One process of a test fleet (forked by redis-fleet.ts, run through tsx): a token cache per i'mport merchant, all on
 * one Redis store. The parent sends `configure`, then `call` messages; the worker answers with each API call's
 * outcome and forwards the cache's and the store's events, reduced to what the tests read (no tokens, no errors).
 */
import { type AuthFetch, createAuthFetch, createTokenCache, type TokenEvent } from '@x/core';
import { createIamportProvider } from '@x/iamport';
import { createRedisTokenStore, type RedisTokenStoreEvent } from '@x/redis';
import { createClient, createCluster, type RedisClientType, type RedisClusterType } from 'redis';
import type { FleetWorkerConfig, FleetWorkerEvent, ParentMessage, WorkerMessage } from './redis-fleet.js';

const send = (message: WorkerMessage): void => {
  if (process.connected) process.send?.(message);
};

const report = (merchant: string, event: TokenEvent | RedisTokenStoreEvent): void => {
  const reduced: FleetWorkerEvent = { merchant, type: event.type };
  if (event.type === 'token-requested') reduced.reason = event.reason;
  if (event.type === 'token-refreshed') reduced.source = event.source;
  if (event.type === 'lock-waited')
    Object.assign(reduced, { received: event.received, waitedMs: event.waitedMs, lockTaken: event.lockTaken });
  if (event.type === 'store-error') reduced.operation = event.operation;
  if (event.type === 'store-decrypt-failed') reduced.reason = event.reason;
  send({ type: 'event', event: reduced });
};

type FleetClient = RedisClientType | RedisClusterType;
let client: FleetClient | undefined;
let fetches = new Map<string, AuthFetch>();

/** Starts over with a new Redis client and new caches: a cold process, without paying for a new fork. */
async function configure(config: FleetWorkerConfig): Promise<boolean> {
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
  fetches = new Map();
  for (const merchant of config.merchants) {
    const store = createRedisTokenStore({
      client: next,
      ...(config.encryptionKey === undefined ? { plaintext: true as const } : { encryptionKey: config.encryptionKey }),
      keyPrefix: config.keyPrefix,
      operationTimeoutMs: config.operationTimeoutMs,
      lockLeaseMs: config.lockLeaseMs,
      onEvent: (event) => report(merchant.impKey, event),
    });
    const provider = createIamportProvider({ impKey: merchant.impKey, impSecret: merchant.impSecret, baseUrl: config.iamportUrl });
    const cache = createTokenCache(provider, {
      store,
      policy: { lockWaitMs: config.lockWaitMs },
      onEvent: (event) => report(merchant.impKey, event),
    });
    fetches.set(merchant.impKey, createAuthFetch(cache));
  }
  // A cluster client is open once it has the slot map; a single-node one reports readiness itself.
  return 'isReady' in next ? next.isReady : next.isOpen;
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
