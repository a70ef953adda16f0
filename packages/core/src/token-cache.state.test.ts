import { createManualClock, type ManualClock } from '@x/test-support/clock';
import { beforeEach, describe, expect, it } from 'vitest';
import {
  createMemoryTokenStore,
  createTokenCache,
  type ProviderToken,
  type TokenProvider,
  TokenRequestError,
  type TokenStore,
} from './index.js';
import { checkStoredToken, serializeToken } from './token-store.js';

let clock: ManualClock;
beforeEach(() => {
  clock = createManualClock();
});

/**
 * A gateway whose refresh tokens rotate, as PortOne V2's do: each login or refresh issues a new refresh token and spends
 * the previous one; a spent one is refused. Counts logins, refreshes and refusals.
 */
function rotatingGateway(lifetimeMs = 30 * 60_000) {
  let issued = 0;
  const gateway = {
    /** The one refresh token not yet spent. */
    live: undefined as string | undefined,
    logins: 0,
    refreshes: 0,
    spentPresented: 0,
    seenStates: [] as Array<string | undefined>,
    provider(): TokenProvider {
      return {
        provider: 'rotating',
        cacheKey: 'rotating:one',
        baseUrl: 'https://api.rotating.test',
        async requestToken({ state, now }): Promise<ProviderToken> {
          gateway.seenStates.push(state);
          if (state !== undefined && state !== gateway.live) {
            gateway.spentPresented += 1;
            throw new TokenRequestError('refresh token spent', { provider: 'rotating', reason: 'rejected', retryable: false, status: 401 });
          }
          if (state === undefined) gateway.logins += 1;
          else gateway.refreshes += 1;
          issued += 1;
          gateway.live = `refresh-${issued}-xcanary`;
          return { accessToken: `access-${issued}-xcanary`, expiresAt: now() + lifetimeMs, state: gateway.live };
        },
      };
    },
  };
  return gateway;
}

describe('provider state (a rotating refresh token)', () => {
  it("should hand the provider back the state of the token it holds, and keep each answer's", async () => {
    const gateway = rotatingGateway();
    const cache = createTokenCache(gateway.provider(), { clock });
    await cache.getToken();
    await cache.getToken({ forceRefresh: true });
    await cache.getToken({ forceRefresh: true });
    expect(gateway.seenStates).toEqual([undefined, 'refresh-1-xcanary', 'refresh-2-xcanary']);
    expect(gateway).toMatchObject({ logins: 1, refreshes: 2, spentPresented: 0 });
  });

  it('should keep the state when the token is dropped after a 401: an access token refused does not spend it', async () => {
    const gateway = rotatingGateway();
    const cache = createTokenCache(gateway.provider(), { clock });
    const first = await cache.getToken();
    await cache.invalidate(first.accessToken);
    await cache.getToken();
    expect(gateway.seenStates).toEqual([undefined, 'refresh-1-xcanary']);
  });

  it('should take the state another process left in the shared store, under the lock, never presenting a spent one', async () => {
    const gateway = rotatingGateway();
    const store = createMemoryTokenStore({ clock });
    const processes = Array.from({ length: 4 }, () => createTokenCache(gateway.provider(), { clock, store }));
    // Each process in turn forces a refresh (as after a 401 or its refresh window), each seeing the others' rotations.
    for (let round = 0; round < 3; round += 1) {
      for (const cache of processes) await cache.getToken({ forceRefresh: true });
    }
    expect(gateway).toMatchObject({ logins: 1, refreshes: 11, spentPresented: 0 });
    // And the tokens of a cold start of all four come from one login.
    const cold = rotatingGateway();
    const coldStore = createMemoryTokenStore({ clock });
    const tokens = await Promise.all(
      Array.from({ length: 4 }, () => createTokenCache(cold.provider(), { clock, store: coldStore }).getToken()),
    );
    expect(new Set(tokens.map((token) => token.accessToken)).size).toBe(1);
    expect(cold.logins).toBe(1);
  });

  it("should take the lock holder's new token in a forced stampede, though it expires within the same second", async () => {
    const gateway = rotatingGateway();
    const store = createMemoryTokenStore({ clock });
    const processes = Array.from({ length: 6 }, () => createTokenCache(gateway.provider(), { clock, store }));
    await Promise.all(processes.map((cache) => cache.getToken()));
    // Every process forces a refresh at once (a 401 everywhere): one refresh, the others take its token.
    const tokens = await Promise.all(processes.map((cache) => cache.getToken({ forceRefresh: true })));
    expect(new Set(tokens.map((token) => token.accessToken))).toEqual(new Set(['access-2-xcanary']));
    expect(gateway).toMatchObject({ logins: 1, refreshes: 1, spentPresented: 0 });
  });

  it('should never present a spent state after a token was dropped in one process and replaced in another', async () => {
    const gateway = rotatingGateway();
    const store = createMemoryTokenStore({ clock });
    const a = createTokenCache(gateway.provider(), { clock, store });
    const b = createTokenCache(gateway.provider(), { clock, store });
    const first = await a.getToken();
    // The drop deletes the stored record with its state: b logs in, which spends a's refresh token.
    await a.invalidate(first.accessToken);
    await b.getToken();
    // a's next refresh, under the lock, takes b's state from the store instead of presenting its spent one.
    await a.getToken({ forceRefresh: true });
    expect(gateway).toMatchObject({ logins: 2, refreshes: 1, spentPresented: 0 });
  });

  it('should store the state with the token, and refuse a stored state that cannot be one, without quoting it', async () => {
    const now = clock.now();
    const record = { accessToken: 'a', expiresAt: now + 60_000, lifetimeMs: 60_000, state: 'refresh-xcanary' };
    expect(checkStoredToken(serializeToken(record), now)).toEqual(record);
    expect(checkStoredToken(serializeToken({ ...record, state: undefined }), now)).toEqual({ ...record, state: undefined });
    const poisoned = checkStoredToken(JSON.stringify({ v: 1, ...record, state: 'x\r\nSet-Cookie: xcanary' }), now);
    expect(poisoned).toBe('its provider state is not visible ASCII of at most 8 KiB');
    expect(checkStoredToken(JSON.stringify({ v: 1, ...record, state: 'x'.repeat(8 * 1024 + 1) }), now)).toBeTypeOf('string');
  });

  it('should refuse a provider state that cannot be stored, as an invalid response', async () => {
    const store: TokenStore = createMemoryTokenStore({ clock });
    const cache = createTokenCache(
      {
        provider: 'rotating',
        cacheKey: 'rotating:bad',
        baseUrl: 'https://api.rotating.test',
        requestToken: async ({ now }) => ({ accessToken: 'access-xcanary', expiresAt: now() + 60_000, state: 'line\nbreak' }),
      },
      { clock, store },
    );
    await expect(cache.getToken()).rejects.toMatchObject({ code: 'X_TOKEN_RESPONSE_INVALID', field: 'state' });
  });
});
