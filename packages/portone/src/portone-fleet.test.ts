/**
 * A fleet in one process: token caches that share one store, as servers share a Redis, against the emulator, which
 * refuses (and counts) every refresh token that a later login or refresh has spent. The cache hands the refresh token
 * on through the store, under its lock; without a shared store each process spends the others' refresh tokens.
 * The same with forked processes on a real Redis: `portone-redis-fleet.test.ts`.
 */
import { type CachePolicy, createMemoryTokenStore, createTokenCache, type TokenCache, type TokenStore } from '@x/core';
import { createCanary } from '@x/core/testing';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createPortOneProvider } from './portone-token-provider.js';
import { createPortOneEmulator, type PortOneEmulator } from './testing/index.js';

const merchants = [1, 2, 3].map((n) => ({ storeId: `store-fleet-${n}`, apiSecret: createCanary(`fleet-${n}-`) }));
let emulator: PortOneEmulator;

beforeAll(async () => {
  emulator = await createPortOneEmulator({ merchants });
});

afterAll(async () => {
  await emulator.close();
});

beforeEach(() => {
  emulator.revoke();
  emulator.resetCounters();
});

/** `processes` caches per merchant, on one store (a fleet) or on none (each process on its own). */
function fleet(processes: number, store?: TokenStore, policy?: Partial<CachePolicy>): TokenCache[] {
  return merchants.flatMap(({ apiSecret }) =>
    Array.from({ length: processes }, () =>
      createTokenCache(createPortOneProvider({ apiSecret, baseUrl: emulator.url }), { store, policy }),
    ),
  );
}

describe('a PortOne fleet on one shared store', () => {
  it('should log in once per API secret at a cold start of 8 processes × 3 merchants', async () => {
    const caches = fleet(8, createMemoryTokenStore());
    const tokens = await Promise.all(caches.map((cache) => cache.getToken()));
    expect(tokens).toHaveLength(24);
    for (const { storeId } of merchants) expect(emulator.countersFor(storeId)).toMatchObject({ tokenRequests: 1, loginRequests: 1 });
    expect(emulator.counters).toMatchObject({ tokenRequests: 3, spentRefreshTokens: 0 });
  });

  it('should never present a spent refresh token when each process in turn forces a refresh', async () => {
    const caches = fleet(8, createMemoryTokenStore());
    await Promise.all(caches.map((cache) => cache.getToken()));
    for (const cache of caches) await cache.getToken({ forceRefresh: true });
    expect(emulator.counters).toMatchObject({ loginRequests: 3, refreshRequests: 24, spentRefreshTokens: 0, rejectedTokenRequests: 0 });
  });

  it('should refresh once per API secret, with no spent refresh token, when every process gets a 401 at once', async () => {
    const caches = fleet(8, createMemoryTokenStore());
    const tokens = await Promise.all(caches.map((cache) => cache.getToken()));
    for (let round = 0; round < 3; round += 1) {
      emulator.revoke();
      await Promise.all(caches.map((cache, index) => cache.invalidate(tokens[index]!.accessToken)));
      tokens.splice(0, tokens.length, ...(await Promise.all(caches.map((cache) => cache.getToken()))));
    }
    expect(emulator.counters).toMatchObject({ loginRequests: 3, refreshRequests: 9, spentRefreshTokens: 0, rejectedTokenRequests: 0 });
  });

  // A forced request that finds the lock taken takes the holder's new token, though it expires within the same second
  // as its own (before the fix in @x/core it waited out lockWaitMs and asked without the lock, presenting the refresh
  // token the holder had spent).
  it('should refresh once per API secret when every process forces a refresh at once', async () => {
    const caches = fleet(8, createMemoryTokenStore(), { lockWaitMs: 300 });
    await Promise.all(caches.map((cache) => cache.getToken()));
    await Promise.all(caches.map((cache) => cache.getToken({ forceRefresh: true })));
    expect(emulator.counters).toMatchObject({ loginRequests: 3, refreshRequests: 3, spentRefreshTokens: 0 });
  });

  it('should show what the store prevents: processes without one spend each other’s refresh tokens', async () => {
    const caches = fleet(2);
    await Promise.all(caches.map((cache) => cache.getToken()));
    for (const cache of caches) await cache.getToken({ forceRefresh: true });
    expect(emulator.counters.loginRequests).toBeGreaterThan(3);
    expect(emulator.counters.spentRefreshTokens).toBeGreaterThan(0);
  });
});
