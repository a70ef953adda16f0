/**
 * Figures 2, 3 and the peers' overhead: throughput of authenticated requests against the same request with the
 * `Authorization` header set by hand, over the same keep-alive connections to a server in another process.
 */

import { createAuthFetch, createTokenCache } from '@x/core';
import { createAuthDispatcher, createAuthInterceptor } from '@x/core/undici';
import { Agent, request } from 'undici';
import { benchToken, createBenchProvider } from './bench-provider.js';
import {
  azureBearerPolicy,
  createAzureSender,
  createCredential,
  createDefaultHttpClient,
  handSetHeaderPolicy,
} from './peers/azure-pipeline.js';
import { createHandWrittenToken } from './peers/hand-written-token.js';
import { compareThroughput, type ThroughputComparison } from './throughput.js';

export interface LoadSettings {
  total: number;
  concurrency: number;
  blockSize: number;
  warmup: number;
}

const authorization = `Bearer ${benchToken}`;
const memoryToken = async (): Promise<{ accessToken: string; expiresAt: number }> => ({
  accessToken: benchToken,
  expiresAt: Date.now() + 3_600_000,
});

/** Figure 2 and peer (a): `createAuthFetch` and a hand-written token check, both over the global `fetch`. */
export async function measureFetchOverhead(apiUrl: string, load: LoadSettings): Promise<ThroughputComparison> {
  const url = `${apiUrl}/ping`;
  const cache = createTokenCache(createBenchProvider(apiUrl));
  await cache.getToken();
  const authFetch = createAuthFetch(cache);
  const handWritten = createHandWrittenToken(memoryToken);
  await handWritten.getToken();
  return compareThroughput({
    ...load,
    baseline: async () => {
      const response = await fetch(url, { headers: { authorization } });
      await response.arrayBuffer();
    },
    subjects: {
      authFetch: async () => {
        const response = await authFetch(url);
        await response.arrayBuffer();
      },
      handWritten: async () => {
        const token = await handWritten.getToken();
        const response = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
        await response.arrayBuffer();
      },
    },
  });
}

/**
 * Figure 3: `undici.request` through `createAuthInterceptor` and through `createAuthDispatcher`, both over the same
 * agent as the baseline.
 */
export async function measureInterceptorOverhead(apiUrl: string, load: LoadSettings): Promise<ThroughputComparison> {
  const url = `${apiUrl}/ping`;
  const cache = createTokenCache(createBenchProvider(apiUrl));
  await cache.getToken();
  const agent = new Agent({ keepAliveTimeout: 60_000 });
  const authenticated = agent.compose(createAuthInterceptor(cache));
  // Not closed on its own: close() would close the shared agent, which the finally below does.
  const authDispatcher = createAuthDispatcher(cache, { dispatcher: agent });
  // What undici's compose costs by itself (a Proxy over the agent, handlers wrapped and unwrapped), whatever the
  // interceptor does.
  const passThrough = agent.compose((dispatch) => (dispatchOptions, handler) => dispatch(dispatchOptions, handler));
  try {
    return await compareThroughput({
      ...load,
      baseline: async () => {
        const response = await request(url, { dispatcher: agent, headers: { authorization } });
        await response.body.dump();
      },
      subjects: {
        interceptor: async () => {
          const response = await request(url, { dispatcher: authenticated });
          await response.body.dump();
        },
        dispatcher: async () => {
          const response = await request(url, { dispatcher: authDispatcher });
          await response.body.dump();
        },
        noopInterceptor: async () => {
          const response = await request(url, { dispatcher: passThrough, headers: { authorization } });
          await response.body.dump();
        },
      },
    });
  } finally {
    await agent.close();
  }
}

/** Peer (b): the Azure SDK's bearer policy against the same header set by a policy of one line. */
export async function measureAzureOverhead(apiUrl: string, load: LoadSettings): Promise<ThroughputComparison> {
  const url = `${apiUrl}/ping`;
  const httpClient = createDefaultHttpClient();
  const baseline = createAzureSender(url, handSetHeaderPolicy(benchToken), httpClient);
  const bearer = createAzureSender(url, azureBearerPolicy(createCredential(memoryToken)), httpClient);
  await bearer.send();
  return compareThroughput({ ...load, baseline: baseline.send, subjects: { azureBearer: bearer.send } });
}
