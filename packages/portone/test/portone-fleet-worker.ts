/**
 * One process of the PortOne test fleet (forked by `portone-redis-fleet.test.ts` through tsx): a token cache per API
 * secret, all on one encrypted Redis store, on one Redis node or a Redis Cluster. The parent sends `configure`, then
 * `call` messages; the worker answers each API call with its status, never a token or a secret.
 */
import { type AuthFetch, createAuthFetch, createTokenCache } from '@x/core';
import { createRedisTokenStore } from '@x/redis';
import { createClient, createCluster, type RedisClientType, type RedisClusterType } from 'redis';
import { createPortOneProvider } from '../src/portone-token-provider.js';

/** What the parent sends. */
export type PortOneFleetMessage =
  | ({ type: 'configure'; portOneUrl: string; apiSecrets: readonly string[]; encryptionKey: string } & (
      | { redisUrl: string }
      // A node-redis `createCluster` client on these nodes (`redis://127.0.0.1:<port>` each).
      | { clusterUrls: readonly string[] }
    ))
  | { type: 'call'; id: number; secretIndex: number }
  | { type: 'exit' };

/** What the worker answers. */
export type PortOneFleetReply =
  | { type: 'ready' }
  | { type: 'configured'; error?: string }
  | { type: 'result'; id: number; status: number | string };

const send = (reply: PortOneFleetReply): void => {
  if (process.connected) process.send?.(reply);
};

let client: RedisClientType | RedisClusterType | undefined;
let fetches: AuthFetch[] = [];

async function configure(message: Extract<PortOneFleetMessage, { type: 'configure' }>): Promise<void> {
  client?.destroy();
  const next: RedisClientType | RedisClusterType =
    'clusterUrls' in message
      ? createCluster({ rootNodes: message.clusterUrls.map((url) => ({ url })) })
      : createClient({ url: message.redisUrl });
  next.on('error', () => {});
  await next.connect();
  client = next;
  fetches = message.apiSecrets.map((apiSecret) => {
    // Redis calls and the lock wait bounded well past a loaded machine's latencies (CI runs the suite on 2 cores): this
    // checks the protocol, not the timing. Under the 250 ms default, a Redis call that missed its bound sent the process
    // to PortOne without the lock (availability over de-duplication, as designed) and the counts came out 2, not 1.
    const store = createRedisTokenStore({ client: next, encryptionKey: message.encryptionKey, operationTimeoutMs: 2_000 });
    const cache = createTokenCache(createPortOneProvider({ apiSecret, baseUrl: message.portOneUrl }), {
      store,
      policy: { lockWaitMs: 10_000, storeTimeoutMs: 3_000 },
    });
    return createAuthFetch(cache);
  });
}

process.on('message', (message: PortOneFleetMessage) => {
  if (message.type === 'exit') {
    client?.destroy();
    process.disconnect();
  } else if (message.type === 'configure') {
    configure(message).then(
      () => send({ type: 'configured' }),
      (error: unknown) => send({ type: 'configured', error: String((error as Error)?.name) }),
    );
  } else {
    fetches[message.secretIndex]!(`/payments/fleet-${message.id}`).then(
      async (response) => {
        await response.body?.cancel();
        send({ type: 'result', id: message.id, status: response.status });
      },
      (error: unknown) => send({ type: 'result', id: message.id, status: String((error as Error)?.name) }),
    );
  }
});

send({ type: 'ready' });
