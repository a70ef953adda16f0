/**
 * Figure 4 and the peers' stampede: `callers` concurrent calls for a token on a cold cache, against the i'mport
 * emulator. Counts the token requests the emulator received and each call's latency.
 */
import type { HttpClient } from '@azure/core-rest-pipeline';
import { createHttpHeaders } from '@azure/core-rest-pipeline';
import { createTokenCache } from '@x/core';
import { createIamportProvider } from '@x/iamport';
import { benchCredentials } from './bench-credentials.js';
import { azureBearerPolicy, createAzureSender, createCredential } from './peers/azure-pipeline.js';
import { createHandWrittenToken } from './peers/hand-written-token.js';
import { createIamportTokenRequest } from './peers/iamport-token-request.js';
import type { ServerHost } from './server-host.js';
import { latencySummary } from './statistics.js';

export interface StampedeResult {
  callers: number;
  /** Token requests the emulator received for the batch. */
  tokenRequests: number;
  /** Calls that failed (a peer overwhelmed by its own stampede). */
  failures: number;
  /** Latency of one call, from the batch's start, milliseconds. */
  p50Ms: number;
  p99Ms: number;
  /** Until the last call settled, milliseconds. */
  batchMs: number;
}

async function stampede(host: ServerHost, callers: number, call: () => Promise<unknown>): Promise<StampedeResult> {
  await host.reset();
  const latencies = new Float64Array(callers);
  let failures = 0;
  const started = performance.now();
  const calls: Array<Promise<void>> = [];
  for (let index = 0; index < callers; index += 1) {
    calls.push(
      call().then(
        () => {
          latencies[index] = performance.now() - started;
        },
        () => {
          latencies[index] = performance.now() - started;
          failures += 1;
        },
      ),
    );
  }
  await Promise.all(calls);
  const batchMs = performance.now() - started;
  const { tokenRequests } = await host.emulatorCounters();
  const { p50, p99 } = latencySummary(latencies);
  return { callers, tokenRequests, failures, p50Ms: p50, p99Ms: p99, batchMs };
}

/** Figure 4: `createTokenCache` over `createIamportProvider`. */
export function measureCacheStampede(host: ServerHost, callers: number): Promise<StampedeResult> {
  const cache = createTokenCache(createIamportProvider({ ...benchCredentials(0), baseUrl: host.emulatorUrl }));
  return stampede(host, callers, () => cache.getToken());
}

/** Peer (a): a module-level token with an expiry check and no single flight. */
export function measureHandWrittenStampede(host: ServerHost, callers: number): Promise<StampedeResult> {
  const { impKey, impSecret } = benchCredentials(1);
  const handWritten = createHandWrittenToken(createIamportTokenRequest(host.emulatorUrl, impKey, impSecret));
  return stampede(host, callers, () => handWritten.getToken());
}

/**
 * Peer (b): the Azure SDK's bearer policy with a credential that asks the emulator. The pipeline's HTTP client
 * answers at once, so the batch measures the token layer only, as the other two do.
 */
export function measureAzureStampede(host: ServerHost, callers: number): Promise<StampedeResult> {
  const { impKey, impSecret } = benchCredentials(2);
  const credential = createCredential(createIamportTokenRequest(host.emulatorUrl, impKey, impSecret));
  const answerAtOnce: HttpClient = {
    async sendRequest(request) {
      return { request, status: 200, headers: createHttpHeaders() };
    },
  };
  const sender = createAzureSender(`${host.apiUrl}/ping`, azureBearerPolicy(credential), answerAtOnce);
  return stampede(host, callers, sender.send);
}
