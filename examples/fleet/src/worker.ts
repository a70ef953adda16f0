/**
 * One server of the fleet: an auth fetch per merchant on a shared Redis token store. Waits for "go", makes its API
 * calls, reports what it did and exits.
 */
import { createAuthFetch, createTokenCache, isAuthError, type TokenEvent } from '@x/core';
import { createIamportProvider } from '@x/iamport';
import { createRedisTokenStore } from '@x/redis';
import { createClient } from 'redis';

export interface WorkerSettings {
  redisUrl: string;
  iamportUrl: string;
  encryptionKey: string;
  merchants: ReadonlyArray<{ impKey: string; impSecret: string }>;
  callsPerMerchant: number;
}

export interface WorkerReport {
  type: 'report';
  index: number;
  pid: number;
  calls: number;
  failures: number;
  /** Why calls failed, once each: the error's code and reason (`X_TOKEN_REQUEST_FAILED timeout`), or the HTTP status. */
  failureKinds: string[];
  /** Tokens this process asked i'mport for. */
  tokensFromGateway: number;
  /** Tokens this process found in Redis, written by another process. */
  tokensFromStore: number;
}

const settings = JSON.parse(process.env.FLEET_WORKER ?? '{}') as WorkerSettings & { index: number };

// The recommended client options: fail fast while Redis is away instead of queueing, reconnect with a short backoff.
const client = createClient({
  url: settings.redisUrl,
  disableOfflineQueue: true,
  socket: { connectTimeout: 1_000, reconnectStrategy: (retries) => Math.min(100 * 2 ** retries, 2_000) },
});
client.on('error', (error: Error) => console.warn(`worker ${settings.index}: redis: ${error.message}`));
await client.connect();

const report: WorkerReport = {
  type: 'report',
  index: settings.index,
  pid: process.pid,
  calls: 0,
  failures: 0,
  failureKinds: [],
  tokensFromGateway: 0,
  tokensFromStore: 0,
};
const onEvent = (event: TokenEvent): void => {
  if (event.type === 'token-requested') report.tokensFromGateway += 1;
  if (event.type === 'token-refreshed' && event.source === 'store') report.tokensFromStore += 1;
};

const store = createRedisTokenStore({ client, encryptionKey: settings.encryptionKey });
const fetches = settings.merchants.map(({ impKey, impSecret }) =>
  createAuthFetch(createTokenCache(createIamportProvider({ impKey, impSecret, baseUrl: settings.iamportUrl }), { store, onEvent })),
);

const fail = (kind: string): void => {
  report.failures += 1;
  if (!report.failureKinds.includes(kind)) report.failureKinds.push(kind);
};

process.once('message', async () => {
  await Promise.all(
    fetches.map(async (iamport) => {
      for (let call = 1; call <= settings.callsPerMerchant; call += 1) {
        report.calls += 1;
        try {
          const response = await iamport(`/payments/imp_${settings.index}_${call}`);
          await response.body?.cancel();
          if (!response.ok) fail(`HTTP ${response.status}`);
        } catch (error) {
          // A failed call is counted and the worker goes on: one slow token request must not end the process.
          fail(isAuthError(error) ? `${error.code}${'reason' in error ? ` ${String(error.reason)}` : ''}` : 'unexpected error');
        }
      }
    }),
  );
  process.send?.(report);
  client.destroy();
  process.disconnect();
});
process.send?.({ type: 'ready' });
