import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { advanceFakeTime as advance, createFakeTimersClock, type FakeTimersClock, untilIo as until } from '@x/test-support/clock';
import { startTestTokenServer, type TestTokenServer, testProvider } from '@x/test-support/token-server';
import { createWakingStore } from '@x/test-support/waking-store';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createAuthFetch } from './bearer-fetch.js';
import type { CachePolicy } from './cache-policy.js';
import type { Clock } from './clock.js';
import { isTokenRequestError, type TokenRequestError } from './errors.js';
import { fingerprint } from './fingerprint.js';
import { createTokenCache, isTokenCache, type TokenCache, type TokenCacheOptions } from './token-cache.js';
import type { TokenEvent } from './token-events.js';
import type { TokenProvider } from './token-provider.js';
import { createMemoryTokenStore, parseStoredToken, serializeToken, type TokenStore } from './token-store.js';

const hour = 3_600_000;
const minute = 60_000;
const start = Date.UTC(2025, 0, 1);

/** Lets pending I/O and promise callbacks run a while without moving fake time. */
async function flush(rounds = 50): Promise<void> {
  for (let round = 0; round < rounds; round += 1) await new Promise((resolve) => setImmediate(resolve));
}

function track<T>(promise: Promise<T>): { settled: boolean; value?: T; error?: unknown } {
  const state: { settled: boolean; value?: T; error?: unknown } = { settled: false };
  promise.then(
    (value) => Object.assign(state, { settled: true, value }),
    (error: unknown) => Object.assign(state, { settled: true, error }),
  );
  return state;
}

/**
 * Moves fake time past the shortest backoff step (100 ms with `random: () => 0`), then calls `call`: after a failure
 * with no token to serve, callers share its error until the step ends.
 */
async function afterBackoff<T>(call: () => Promise<T>): Promise<T> {
  await advance(100);
  return call();
}

let server: TestTokenServer;
let clock: FakeTimersClock;
let provider: TokenProvider;
let events: TokenEvent[];

beforeEach(async () => {
  vi.useFakeTimers({ now: start, toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });
  clock = createFakeTimersClock();
  server = await startTestTokenServer({ now: () => clock.now() });
  provider = testProvider(server);
  events = [];
});

afterEach(async () => {
  await server.close();
  vi.useRealTimers();
});

function cacheFor(options: Omit<TokenCacheOptions, 'policy'> & { policy?: Partial<CachePolicy> } = {}): TokenCache {
  return createTokenCache(provider, {
    clock,
    random: () => 0,
    onEvent: (event) => events.push(event),
    ...options,
  });
}

const ofType = <T extends TokenEvent['type']>(type: T): Array<Extract<TokenEvent, { type: T }>> =>
  events.filter((event): event is Extract<TokenEvent, { type: T }> => event.type === type);

describe('createTokenCache', () => {
  it('should be recognised by isTokenCache', () => {
    expect(isTokenCache(cacheFor())).toBe(true);
    expect(isTokenCache({ getToken() {}, invalidate() {} })).toBe(false);
  });

  describe('cache hits', () => {
    it('should return a valid cached token without a network call, as the same promise every time', async () => {
      const cache = cacheFor();
      const first = await cache.getToken();
      expect(first.tokenType).toBe('Bearer');
      expect(server.validTokens.has(first.accessToken)).toBe(true);
      expect(first.expiresAt).toBe(clock.now() + hour);

      const hit = cache.getToken();
      await advance(30 * minute);
      const later = cache.getToken();
      expect(later).toBe(hit);
      expect(cache.getToken()).toBe(hit);
      expect(await hit).toBe(first);
      expect(server.tokenRequests).toBe(1);
    });
  });

  describe('with the system clock', () => {
    beforeEach(() => {
      vi.useRealTimers();
      vi.useFakeTimers({ now: start, toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date', 'performance'] });
    });

    it('should decide each hit from the clock, so a process whose timers never fire does not serve a token past its expiry', async () => {
      // A serverless isolate frozen between requests (Cloudflare Workers) runs no timer set during an earlier
      // request: time passes, but nothing fires. The fake clock jumps here without running a single timer.
      const cache = createTokenCache(provider, { random: () => 0, onEvent: (event) => events.push(event) });
      const first = await cache.getToken();
      const frozenAt = performance.now();
      const now = vi.spyOn(performance, 'now');
      const jumpTo = (milliseconds: number): void => {
        now.mockReturnValue(frozenAt + milliseconds);
        vi.setSystemTime(start + milliseconds);
      };

      jumpTo(hour - 5 * minute - 1);
      await expect(cache.getToken()).resolves.toBe(first);
      expect(server.tokenRequests).toBe(1);

      jumpTo(hour + 1);
      const second = await cache.getToken();
      expect(second.accessToken).not.toBe(first.accessToken);
      expect(server.tokenRequests).toBe(2);
      now.mockRestore();
    });

    it('should let a cache nobody holds be collected with its token at the next GC', async () => {
      // A timer pending until the token's refresh time (up to 24 days for Vipps) would hold the cache's token.
      setFlagsFromString('--expose-gc');
      const collect = runInNewContext('gc') as () => void;
      const store = createMemoryTokenStore();
      const references = await (async () => {
        const cache = createTokenCache(provider, { store });
        const token = await cache.getToken();
        return { cache: new WeakRef(cache), token: new WeakRef(token) };
      })();
      vi.useRealTimers();
      for (
        let attempt = 0;
        attempt < 10 && (references.cache.deref() !== undefined || references.token.deref() !== undefined);
        attempt += 1
      ) {
        await new Promise((resolve) => setImmediate(resolve));
        collect();
      }
      expect(references.cache.deref()).toBeUndefined();
      expect(references.token.deref()).toBeUndefined();
    });

    it('should stop serving an invalidated token from the fast path', async () => {
      const cache = createTokenCache(provider);
      const first = await cache.getToken();
      await cache.invalidate(first.accessToken);
      const second = await cache.getToken();
      expect(second.accessToken).not.toBe(first.accessToken);
      expect(server.tokenRequests).toBe(2);
    });
  });

  describe('peekToken', () => {
    it('should return the token getToken would hand out without waiting, and nothing when a caller would wait', async () => {
      const cache = cacheFor({ policy: { refreshAheadMs: 5 * minute } });
      expect(cache.peekToken()).toBeUndefined();
      const token = await cache.getToken();
      expect(cache.peekToken()).toBe(token);

      await advance(hour - 5 * minute + 1);
      expect(cache.peekToken()).toBe(token);
      await until(() => server.tokenRequests === 2, 'the background refresh started by peekToken');
      await until(() => ofType('token-refreshed').length === 2, 'the refreshed token');
      expect(cache.peekToken()?.accessToken).not.toBe(token.accessToken);

      await advance(hour);
      expect(cache.peekToken()).toBeUndefined();
    });
  });

  describe('single flight', () => {
    it('should make one token request for 1,000 concurrent callers on a cold cache', async () => {
      const cache = cacheFor();
      const tokens = await Promise.all(Array.from({ length: 1_000 }, () => cache.getToken()));
      expect(server.tokenRequests).toBe(1);
      for (const token of tokens) expect(token).toBe(tokens[0]);
      expect(ofType('token-requested')).toHaveLength(1);
    });

    it('should give 1,000 concurrent callers the same typed error when the server fails', async () => {
      server.mode = 503;
      const cache = cacheFor();
      const results = await Promise.allSettled(Array.from({ length: 1_000 }, () => cache.getToken()));
      expect(server.tokenRequests).toBe(1);
      const first = results[0] as PromiseRejectedResult;
      expect(isTokenRequestError(first.reason)).toBe(true);
      expect((first.reason as TokenRequestError).status).toBe(503);
      for (const result of results) {
        expect(result.status).toBe('rejected');
        expect((result as PromiseRejectedResult).reason).toBe(first.reason);
      }
    });
  });

  describe('refresh ahead', () => {
    it('should serve the current token while exactly one background refresh runs, from 5 minutes before expiry', async () => {
      const cache = cacheFor();
      const old = await cache.getToken();
      await advance(hour - 5 * minute - 1);
      cache.getToken();
      expect(server.tokenRequests).toBe(1);

      await advance(1);
      server.delayMs = 1_000;
      const served = cache.getToken();
      expect(await served).toBe(old);
      await until(() => server.tokenRequests === 2, 'the background request');
      for (let call = 0; call < 100; call += 1) expect(cache.getToken()).toBe(served);
      await flush();
      expect(server.tokenRequests).toBe(2);
      expect(ofType('token-requested').map((event) => event.reason)).toEqual(['initial', 'refresh-ahead']);

      await advance(1_000);
      await until(() => ofType('token-refreshed').length === 2, 'the refreshed token');
      const fresh = await cache.getToken();
      expect(fresh.accessToken).not.toBe(old.accessToken);
      expect(fresh.expiresAt).toBe(clock.now() + hour);
      expect(server.tokenRequests).toBe(2);
    });

    it('should start refreshing a short-lived token at half its lifetime, not 5 minutes early', async () => {
      server.lifetimeMs = minute;
      const cache = cacheFor();
      const old = await cache.getToken();
      await advance(30_000 - 1);
      expect(await cache.getToken()).toBe(old);
      await flush();
      expect(server.tokenRequests).toBe(1);

      await advance(1);
      expect(await cache.getToken()).toBe(old);
      await until(() => ofType('token-refreshed').length === 2, 'the background refresh');
      expect(server.tokenRequests).toBe(2);
      expect(ofType('token-requested')[1]?.reason).toBe('refresh-ahead');
    });

    it('should start each cache’s window at a jittered time within [ahead × (1 − jitter), ahead]', async () => {
      const ahead = 5 * minute;
      const jitter = 0.2;
      const started = new Map<string, number>();
      const caches = (['early', 'late'] as const).map((name) =>
        createTokenCache(provider, {
          clock,
          random: name === 'early' ? () => 0 : () => 0.999,
          policy: { refreshAheadMs: ahead, refreshAheadJitter: jitter },
          onEvent: (event) => {
            if (event.type === 'token-requested' && event.reason === 'refresh-ahead') started.set(name, clock.monotonic());
          },
        }),
      );
      for (const cache of caches) await cache.getToken();
      const expiry = clock.monotonic() + hour;

      await advance(hour - ahead - 10_000);
      for (let step = 0; step < 80 && started.size < 2; step += 1) {
        for (const cache of caches) await cache.getToken();
        await flush();
        await advance(1_000);
      }
      const early = expiry - started.get('early')!;
      const late = expiry - started.get('late')!;
      expect(early).toBe(ahead);
      expect(late).toBeGreaterThanOrEqual(ahead * (1 - jitter) - 1_000);
      expect(late).toBeLessThanOrEqual(ahead * (1 - jitter * 0.999));
      expect(late).toBeLessThan(early);
    });
  });

  describe('minimum validity', () => {
    it('should make callers wait for a fresh token once less than 10 s of life is left', async () => {
      const cache = cacheFor({ policy: { refreshAheadMs: 0 } });
      const old = await cache.getToken();
      await advance(hour - 10_001);
      expect(await cache.getToken()).toBe(old);
      await flush();
      expect(server.tokenRequests).toBe(1);

      await advance(1);
      server.delayMs = 1_000;
      const waiting = track(cache.getToken());
      await until(() => server.tokenRequests === 2, 'the request');
      await flush();
      expect(waiting.settled).toBe(false);
      await advance(1_000);
      await until(() => waiting.settled, 'the fresh token');
      expect(waiting.value?.accessToken).not.toBe(old.accessToken);
      expect(ofType('token-requested')[1]?.reason).toBe('expired');
    });
  });

  describe('failing refreshes', () => {
    it('should keep serving a valid token and retry with capped exponential backoff and full jitter', async () => {
      let draw = 0;
      const cache = cacheFor({
        random: () => draw,
        policy: { refreshAheadJitter: 0, retryBaseDelayMs: 1_000, retryMaxDelayMs: 8_000 },
      });
      const unhandled: unknown[] = [];
      const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
      process.on('unhandledRejection', onUnhandled);
      try {
        const old = await cache.getToken();
        server.mode = 503;
        await advance(hour - 5 * minute);

        draw = 0.5;
        const delays: number[] = [];
        for (let attempt = 0; attempt < 6; attempt += 1) {
          expect(await cache.getToken()).toBe(old);
          await until(() => ofType('token-served-stale').length === attempt + 1, 'the failed refresh');
          const { nextAttemptInMs } = ofType('token-served-stale')[attempt]!;
          delays.push(nextAttemptInMs);
          await advance(nextAttemptInMs - 1);
          expect(await cache.getToken()).toBe(old);
          await flush();
          expect(server.tokenRequests).toBe(attempt + 2);
          await advance(1);
        }
        expect(delays).toEqual([500, 1_000, 2_000, 4_000, 4_000, 4_000]);

        draw = 0.999;
        await cache.getToken();
        await until(() => ofType('token-served-stale').length === 7, 'the failed refresh');
        expect(ofType('token-served-stale')[6]!.nextAttemptInMs).toBeLessThanOrEqual(8_000);
        expect(ofType('token-served-stale')[6]!.nextAttemptInMs).toBeGreaterThan(7_900);

        const stale = ofType('token-served-stale')[0]!;
        expect(stale.fingerprint).toBe(fingerprint(old.accessToken));
        expect(stale.remainingMs).toBe(5 * minute);
        expect(ofType('token-request-failed').every((event) => event.retryable)).toBe(true);
        await flush();
        expect(unhandled).toEqual([]);
      } finally {
        process.off('unhandledRejection', onUnhandled);
      }
    });

    it('should not start a request on every call when the backoff draws zero', async () => {
      const cache = cacheFor({ policy: { refreshAheadJitter: 0 } });
      await cache.getToken();
      server.mode = 503;
      await advance(hour - 5 * minute);
      await cache.getToken();
      await until(() => ofType('token-served-stale').length === 1, 'the failed refresh');
      for (let call = 0; call < 100; call += 1) await cache.getToken();
      await flush();
      expect(server.tokenRequests).toBe(2);
      expect(ofType('token-served-stale')[0]!.nextAttemptInMs).toBeGreaterThan(0);
    });

    it('should give every waiting caller the same typed error when there is no valid token, and retry once the backoff ends', async () => {
      server.mode = 500;
      const cache = cacheFor();
      const results = await Promise.allSettled([cache.getToken(), cache.getToken(), cache.getToken()]);
      const reasons = results.map((result) => (result as PromiseRejectedResult).reason as TokenRequestError);
      expect(reasons[0]).toMatchObject({ code: 'X_TOKEN_REQUEST_FAILED', status: 500, retryable: true, provider: 'test' });
      expect(new Set(reasons).size).toBe(1);
      expect(server.tokenRequests).toBe(1);

      server.mode = 'ok';
      // random() is 0: the shortest step, 100 ms. Until it ends, callers share the error; then one asks again.
      await advance(99);
      await expect(cache.getToken()).rejects.toBe(reasons[0]);
      expect(server.tokenRequests).toBe(1);
      await advance(1);
      await expect(cache.getToken()).resolves.toMatchObject({ tokenType: 'Bearer' });
      expect(server.tokenRequests).toBe(2);
    });

    it('should not retry rejected credentials within failureCooldownMs, and retry after it', async () => {
      server.mode = 401;
      const cache = cacheFor();
      const error = await cache.getToken().catch((reason: unknown) => reason);
      expect(error).toMatchObject({ code: 'X_TOKEN_REQUEST_FAILED', reason: 'rejected', retryable: false, status: 401 });
      expect(ofType('token-request-failed')[0]).toMatchObject({ retryable: false, cooldownMs: 10_000 });

      await advance(9_999);
      for (let call = 0; call < 10; call += 1) await expect(cache.getToken()).rejects.toBe(error);
      expect(server.tokenRequests).toBe(1);

      await advance(1);
      const next = await cache.getToken().catch((reason: unknown) => reason);
      expect(server.tokenRequests).toBe(2);
      expect(next).not.toBe(error);
      expect(next).toMatchObject({ reason: 'rejected' });

      server.mode = 'ok';
      await advance(10_000);
      await expect(cache.getToken()).resolves.toMatchObject({ tokenType: 'Bearer' });
    });
  });

  describe('backoff with no token to serve', () => {
    /** `callers` loops that each ask for a token every `everyMs` until they get one, while fake time runs `forMs`. */
    async function storm(cache: TokenCache, callers: number, everyMs: number, forMs: number, at: (elapsed: number) => void) {
      const served = new Set<number>();
      const errors: unknown[] = [];
      for (let elapsed = 0; elapsed < forMs && served.size < callers; elapsed += everyMs) {
        at(elapsed);
        for (let caller = 0; caller < callers; caller += 1) {
          if (served.has(caller)) continue;
          cache.getToken().then(
            () => served.add(caller),
            (error: unknown) => errors.push(error),
          );
        }
        await flush(5);
        await advance(everyMs);
      }
      return { served: served.size, errors };
    }

    it('should cost at most 10 token requests when 20 callers meet a token endpoint answering 503 for 2 s', async () => {
      server.mode = 503;
      // Jitter draws 0.5: steps of 0.5, 1 and 2 s.
      const cache = cacheFor({ random: () => 0.5 });
      const { served, errors } = await storm(cache, 20, 10, 10_000, (elapsed) => {
        if (elapsed >= 2_000) server.mode = 'ok';
      });
      expect(served).toBe(20);
      expect(errors.length).toBeGreaterThan(0);
      expect(errors.every((error) => isTokenRequestError(error) && error.status === 503)).toBe(true);
      expect(server.tokenRequests).toBeLessThanOrEqual(10);
    });

    it('should honour Retry-After on a 429: no token request until it has passed, however many calls come', async () => {
      server.mode = 429;
      server.retryAfter = '30';
      const cache = cacheFor({ random: () => 0.5 });
      const { served } = await storm(cache, 20, 100, 60_000, () => {});
      expect(served).toBe(0);
      // At 0 s, then no sooner than 30 s later, then no sooner than 30 s after that: at most 3 in 60 s.
      expect(server.tokenRequests).toBeGreaterThanOrEqual(2);
      expect(server.tokenRequests).toBeLessThanOrEqual(3);
    });

    it('should cap Retry-After at retryMaxDelayMs, and read it as an HTTP date too', async () => {
      server.mode = 503;
      server.retryAfter = new Date(clock.now() + hour).toUTCString();
      const cache = cacheFor({ policy: { retryMaxDelayMs: 20_000 } });
      await expect(cache.getToken()).rejects.toMatchObject({ status: 503 });
      // 15 s of backoff left: the same error at once, no request.
      await advance(5_000);
      await expect(cache.getToken()).rejects.toMatchObject({ status: 503 });
      expect(server.tokenRequests).toBe(1);
      server.mode = 'ok';
      await advance(15_000);
      await expect(cache.getToken()).resolves.toMatchObject({ tokenType: 'Bearer' });
      expect(server.tokenRequests).toBe(2);
    });

    it('should keep only the token refused on its first use: another is dropped at its first 401', async () => {
      const cache = cacheFor();
      const refused = await cache.getToken();
      await cache.invalidate(refused.accessToken, { refusedOnFirstUse: true });
      await cache.invalidate(refused.accessToken);
      expect(ofType('token-invalidation-deferred')).toHaveLength(2);
      expect(await cache.getToken()).toBe(refused);

      const newer = await cache.getToken({ forceRefresh: true });
      expect(newer.accessToken).not.toBe(refused.accessToken);
      await cache.invalidate(newer.accessToken);
      expect(ofType('token-invalidated')).toHaveLength(1);
      expect((await cache.getToken()).accessToken).not.toBe(newer.accessToken);
      expect(server.tokenRequests).toBe(3);
    });

    it('should not ask for a token per call when the API refuses every fresh token with a 401', async () => {
      // A key without that API product: every token is refused, so dropping each one would cost a request per call.
      server.apiRefusesAll = true;
      const cache = cacheFor();
      const authFetch = createAuthFetch(cache, { fetch: globalThis.fetch });
      for (let call = 0; call < 50; call += 1) {
        const response = await authFetch('/api/payments');
        expect(response.status).toBe(401);
        await response.arrayBuffer();
      }
      // The first token, and one forced refresh: the next may come only after the backoff step. A kept token's 401 is
      // the answer: not sent again with the same token.
      expect(server.tokenRequests).toBe(2);
      expect(server.apiCalls).toHaveLength(51);
      expect(ofType('token-invalidation-deferred').length).toBeGreaterThan(0);

      await advance(minute);
      const response = await authFetch('/api/payments');
      await response.arrayBuffer();
      expect(server.tokenRequests).toBe(3);
    });
  });

  describe('unchanged tokens', () => {
    it('should treat the same token with the same expiry as no error, schedule the next attempt, and accept a later expiry', async () => {
      const cache = cacheFor({ random: () => 0.5, policy: { refreshAheadJitter: 0 } });
      const old = await cache.getToken();
      server.mode = 'same';
      await advance(hour - 5 * minute);

      expect(await cache.getToken()).toBe(old);
      await until(() => ofType('token-unchanged').length === 1, 'the unchanged answer');
      const unchanged = ofType('token-unchanged')[0]!;
      expect(unchanged).toMatchObject({ fingerprint: fingerprint(old.accessToken), expiresInMs: 5 * minute, nextAttemptInMs: 500 });
      expect(ofType('token-request-failed')).toEqual([]);
      expect(ofType('token-refreshed')).toHaveLength(1);

      for (let call = 0; call < 200; call += 1) expect(await cache.getToken()).toBe(old);
      await advance(499);
      for (let call = 0; call < 200; call += 1) expect(await cache.getToken()).toBe(old);
      await flush();
      expect(server.tokenRequests).toBe(2);

      await advance(1);
      await cache.getToken();
      await until(() => ofType('token-unchanged').length === 2, 'the second unchanged answer');
      expect(server.tokenRequests).toBe(3);
      expect(ofType('token-unchanged')[1]!.nextAttemptInMs).toBe(1_000);

      server.mode = 'extend';
      await advance(1_000);
      expect(await cache.getToken()).toBe(old);
      await until(() => ofType('token-refreshed').length === 2, 'the extended token');
      expect(ofType('token-refreshed')[1]).toMatchObject({ extended: true, fingerprint: fingerprint(old.accessToken), source: 'provider' });
      const extended = await cache.getToken();
      expect(extended.accessToken).toBe(old.accessToken);
      expect(extended.expiresAt).toBe(clock.now() + hour);
      for (let call = 0; call < 100; call += 1) await cache.getToken();
      await advance(10 * minute);
      await cache.getToken();
      await flush();
      expect(server.tokenRequests).toBe(4);
    });

    // Found by the model-based test (token-cache.model.test.ts): an earlier expiry restated for the held token was
    // taken for "unchanged", and the token was handed out after the gateway had said it ends.
    it('should believe the gateway when it restates the held token with an earlier expiry', async () => {
      const cache = cacheFor({ policy: { refreshAheadJitter: 0 } });
      const old = await cache.getToken();
      server.mode = 'extend';
      server.lifetimeMs = 30_000;
      await advance(hour - 5 * minute);

      expect(await cache.getToken()).toBe(old);
      await until(() => ofType('token-refreshed').length + ofType('token-unchanged').length === 2, 'the answer');
      expect(ofType('token-refreshed')[1]).toMatchObject({ extended: false, expiresInMs: 30_000 });
      const shortened = await cache.getToken();
      expect(shortened.accessToken).toBe(old.accessToken);
      expect(shortened.expiresAt).toBe(clock.now() + 30_000);

      // 10 s left on the gateway's word: no longer handed out.
      await advance(20_000);
      server.mode = 'ok';
      server.lifetimeMs = hour;
      const fresh = await cache.getToken();
      expect(fresh.accessToken).not.toBe(old.accessToken);
    });

    it('should stop handing out the held token when the gateway restates it with less than minValidityMs left', async () => {
      const cache = cacheFor({ policy: { refreshAheadJitter: 0 } });
      const old = await cache.getToken();
      server.mode = 'extend';
      server.lifetimeMs = 5_000;
      await advance(hour - 5 * minute);

      expect(await cache.getToken()).toBe(old);
      await until(() => server.tokenRequests === 2, 'the refresh-ahead request');
      await until(() => cache.peekToken() === undefined, 'the answer');
      await expect(afterBackoff(() => cache.getToken())).rejects.toMatchObject({ code: 'X_TOKEN_RESPONSE_INVALID', field: 'expiresAt' });
      expect(server.tokenRequests).toBe(3);

      server.mode = 'ok';
      server.lifetimeMs = hour;
      const fresh = await afterBackoff(() => cache.getToken());
      expect(fresh.accessToken).not.toBe(old.accessToken);
    });
  });

  describe('timeouts and aborts', () => {
    it('should fail a hanging token request after 10 s with a retryable timeout error', async () => {
      server.mode = 'hang';
      const cache = cacheFor();
      const waiting = track(cache.getToken());
      await until(() => server.tokenRequests === 1, 'the request');
      await advance(9_999);
      await flush();
      expect(waiting.settled).toBe(false);
      await advance(1);
      await until(() => waiting.settled, 'the timeout');
      expect(isTokenRequestError(waiting.error)).toBe(true);
      expect(waiting.error).toMatchObject({ reason: 'timeout', retryable: true, provider: 'test' });
    });

    it('should time out a provider that ignores the abort signal', async () => {
      const base = testProvider(server);
      provider = { ...base, requestToken: (context) => base.requestToken({ ...context, signal: new AbortController().signal }) };
      server.mode = 'hang';
      const cache = cacheFor({ policy: { requestTimeoutMs: 2_000 } });
      const waiting = track(cache.getToken());
      await until(() => server.tokenRequests === 1, 'the request');
      await advance(2_000);
      await until(() => waiting.settled, 'the timeout');
      expect(waiting.error).toMatchObject({ reason: 'timeout', retryable: true });

      server.mode = 'ok';
      await expect(afterBackoff(() => cache.getToken())).resolves.toMatchObject({ tokenType: 'Bearer' });
    });

    it('should abort only the wait of the caller whose signal fired', async () => {
      server.delayMs = 1_000;
      const cache = cacheFor();
      const controller = new AbortController();
      const aborted = track(cache.getToken({ signal: controller.signal }));
      const others = [track(cache.getToken()), track(cache.getToken())];
      await until(() => server.tokenRequests === 1, 'the request');
      controller.abort();
      await until(() => aborted.settled, 'the abort');
      expect(aborted.error).toMatchObject({ name: 'AbortError' });
      await flush();
      expect(others.every((other) => !other.settled)).toBe(true);

      await advance(1_000);
      await until(() => others.every((other) => other.settled), 'the token');
      expect(others[0]!.value?.tokenType).toBe('Bearer');
      expect(others[1]!.value).toBe(others[0]!.value);
      expect(server.tokenRequests).toBe(1);
      await expect(cache.getToken({ signal: AbortSignal.abort() })).resolves.toBe(others[0]!.value);
    });
  });

  describe('wall-clock jumps', () => {
    it('should neither expire early nor serve late when the wall clock jumps', async () => {
      const cache = cacheFor({ policy: { refreshAheadJitter: 0 } });
      const old = await cache.getToken();

      clock.jumpWall(3 * hour);
      await advance(30 * minute);
      expect(await cache.getToken()).toBe(old);
      await flush();
      expect(server.tokenRequests).toBe(1);

      clock.jumpWall(-6 * hour);
      server.mode = 503;
      await advance(25 * minute - 1);
      expect(await cache.getToken()).toBe(old);
      await flush();
      expect(server.tokenRequests).toBe(1);
      await advance(1);
      expect(await cache.getToken()).toBe(old);
      await until(() => ofType('token-served-stale').length === 1, 'the refresh-ahead attempt');
      expect(server.tokenRequests).toBe(2);

      // The wall clock says this token has hours left; the monotonic clock says 10 s: it is not handed out.
      await advance(5 * minute - 10_000);
      await expect(cache.getToken()).rejects.toMatchObject({ status: 503 });
      server.mode = 'ok';
      const fresh = await afterBackoff(() => cache.getToken());
      expect(fresh.accessToken).not.toBe(old.accessToken);
    });

    // Found by the model-based test (token-cache.model.test.ts): the extension was compared with the held expiry on
    // the wall clock, so after the clock jumped back it looked earlier, was taken for "unchanged", and callers were
    // refused the token while the gateway kept extending it.
    it('should accept an extended expiry after the wall clock jumped back', async () => {
      const cache = cacheFor({ policy: { refreshAheadJitter: 0 } });
      const old = await cache.getToken();
      server.mode = 'extend';
      server.lifetimeMs = 10 * minute;
      clock.jumpWall(-3 * hour);

      await advance(hour - 5 * minute);
      expect(await cache.getToken()).toBe(old);
      await until(() => server.tokenRequests === 2, 'the refresh-ahead request');
      await until(() => ofType('token-refreshed').length + ofType('token-unchanged').length === 2, 'its answer');
      expect(ofType('token-unchanged')).toEqual([]);
      expect(ofType('token-refreshed')[1]).toMatchObject({ extended: true, expiresInMs: 10 * minute });

      await advance(5 * minute);
      const extended = await cache.getToken();
      expect(extended.accessToken).toBe(old.accessToken);
      expect(extended.expiresAt).toBe(clock.now() + 5 * minute);
    });

    it('should take the same expiry restated after the wall clock jumped ahead for unchanged, not for an extension', async () => {
      const cache = cacheFor({ policy: { refreshAheadJitter: 0 } });
      const old = await cache.getToken();
      await advance(hour - 5 * minute);
      // A provider that corrects for the gateway's clock restates the same expiry on the jumped local clock.
      clock.jumpWall(3 * hour);
      server.lifetimeMs = 5 * minute;
      server.mode = 'extend';

      expect(await cache.getToken()).toBe(old);
      await until(() => ofType('token-refreshed').length + ofType('token-unchanged').length === 2, 'the answer');
      expect(ofType('token-unchanged')).toHaveLength(1);
      expect(ofType('token-refreshed')).toHaveLength(1);
    });
  });

  describe('provider answers', () => {
    it('should refuse an access token that could not go into an Authorization header, as a TokenResponseError', async () => {
      for (const accessToken of ['', 'with space', 'line\nbreak', 'caf\u00e9']) {
        provider = testProvider(server, { requestToken: async () => ({ accessToken, expiresAt: clock.now() + hour }) });
        const error = await cacheFor()
          .getToken()
          .catch((caught: unknown) => caught);
        expect(error).toMatchObject({ name: 'TokenResponseError', field: 'accessToken' });
      }
    });
  });

  describe('invalidate', () => {
    it('should leave a newer token in place when an older one is invalidated', async () => {
      const cache = cacheFor();
      const older = await cache.getToken();
      const newer = await cache.getToken({ forceRefresh: true });
      expect(newer.accessToken).not.toBe(older.accessToken);
      await cache.invalidate(older.accessToken);
      expect(await cache.getToken()).toBe(newer);
      expect(server.tokenRequests).toBe(2);
      expect(ofType('token-invalidated')).toEqual([]);
    });

    it('should request a new token after the current one is invalidated', async () => {
      const cache = cacheFor();
      const old = await cache.getToken();
      await cache.invalidate(old.accessToken);
      expect(ofType('token-invalidated')).toEqual([expect.objectContaining({ fingerprint: fingerprint(old.accessToken) })]);
      const fresh = await cache.getToken();
      expect(fresh.accessToken).not.toBe(old.accessToken);
      expect(server.tokenRequests).toBe(2);
      expect(ofType('token-requested').map((event) => event.reason)).toEqual(['initial', 'invalidated']);
    });

    it('should not take the invalidated token back from a store that still holds it', async () => {
      const memory = createMemoryTokenStore({ clock });
      const store: TokenStore = { ...memory, delete: async () => {} };
      const cache = cacheFor({ store });
      const old = await cache.getToken();
      await cache.invalidate(old.accessToken);
      expect(parseStoredToken(await store.get(provider.cacheKey))?.accessToken).toBe(old.accessToken);
      const fresh = await cache.getToken();
      expect(fresh.accessToken).not.toBe(old.accessToken);
      expect(server.tokenRequests).toBe(2);
    });

    it('should not hand the invalidating caller the same token from a request that was on the wire before', async () => {
      // The gateway decided the refresh's answer (the held token, extended) before it revoked that token; the bytes
      // arrive after an API call's 401 invalidated it. The caller that invalidated must get a token asked for later.
      let answerRefresh: ((token: { accessToken: string; expiresAt: number }) => void) | undefined;
      const answers = [
        async () => ({ accessToken: 'token-1', expiresAt: clock.now() + hour }),
        () => new Promise<{ accessToken: string; expiresAt: number }>((resolve) => (answerRefresh = resolve)),
        async () => ({ accessToken: 'token-2', expiresAt: clock.now() + hour }),
      ];
      provider = testProvider(server, { requestToken: () => answers.shift()!() });
      const cache = cacheFor();
      expect((await cache.getToken()).accessToken).toBe('token-1');
      await advance(hour - 4 * minute);
      expect((await cache.getToken()).accessToken).toBe('token-1'); // starts the refresh ahead
      await flush();
      expect(answerRefresh).toBeDefined();
      await cache.invalidate('token-1');
      const retry = track(cache.getToken());
      answerRefresh!({ accessToken: 'token-1', expiresAt: clock.now() + hour });
      await flush();
      expect(retry).toMatchObject({ settled: true, value: { accessToken: 'token-2' } });
      expect(ofType('token-requested').map((event) => event.reason)).toEqual(['initial', 'refresh-ahead', 'invalidated']);
    });

    it('should believe a request started after the invalidation that brings the same token back', async () => {
      // A 401 for another reason (a resource of another merchant): i'mport answers with the still-valid token again.
      provider = testProvider(server, { requestToken: async () => ({ accessToken: 'token-1', expiresAt: clock.now() + hour }) });
      const cache = cacheFor();
      await cache.getToken();
      await cache.invalidate('token-1');
      expect((await cache.getToken()).accessToken).toBe('token-1');
      expect(ofType('token-requested')).toHaveLength(2);
    });

    it('should delete the invalidated token from the store', async () => {
      const store = createMemoryTokenStore({ clock });
      const cache = cacheFor({ store });
      const old = await cache.getToken();
      await cache.invalidate(old.accessToken);
      expect(await store.get(provider.cacheKey)).toBeUndefined();
    });
  });

  describe('events', () => {
    it('should report what happens with provider, cacheKey and timings, never the token', async () => {
      const cache = cacheFor({ policy: { refreshAheadJitter: 0 } });
      server.delayMs = 40;
      const first = cache.getToken();
      await until(() => server.tokenRequests === 1, 'the request');
      await advance(40);
      const old = await first;
      server.delayMs = 0;
      server.mode = 503;
      await advance(hour - 5 * minute);
      await cache.getToken();
      await until(() => ofType('token-served-stale').length === 1, 'the failed refresh');
      await cache.invalidate(old.accessToken);
      server.mode = 'ok';
      await cache.getToken();

      expect(events.map((event) => event.type)).toEqual([
        'token-requested',
        'token-refreshed',
        'token-requested',
        'token-request-failed',
        'token-served-stale',
        'token-invalidated',
        'token-requested',
        'token-refreshed',
      ]);
      for (const event of events) {
        expect(event.provider).toBe('test');
        expect(event.cacheKey).toBe(provider.cacheKey);
        expect(typeof event.time).toBe('number');
      }
      expect(ofType('token-refreshed')[0]).toMatchObject({ source: 'provider', extended: false, durationMs: 40, expiresInMs: hour });
      expect(ofType('token-request-failed')[0]).toMatchObject({ retryable: true, durationMs: 0 });
      expect(isTokenRequestError(ofType('token-request-failed')[0]!.error)).toBe(true);

      expect(server.validTokens.size).toBe(2);
      for (const event of events) {
        const json = JSON.stringify(event);
        for (const token of server.validTokens) expect(json).not.toContain(token);
      }
    });

    it('should keep working when the listener throws or rejects', async () => {
      const unhandled: unknown[] = [];
      const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
      process.on('unhandledRejection', onUnhandled);
      try {
        for (const onEvent of [
          () => {
            throw new Error('listener broke');
          },
          async () => {
            throw new Error('async listener broke');
          },
        ]) {
          const cache = cacheFor({ onEvent, store: createMemoryTokenStore({ clock }) });
          const token = await cache.getToken();
          expect(token.tokenType).toBe('Bearer');
          await cache.invalidate(token.accessToken);
          server.mode = 500;
          await expect(cache.getToken()).rejects.toMatchObject({ status: 500 });
          server.mode = 'ok';
        }
        await flush();
        expect(unhandled).toEqual([]);
      } finally {
        process.off('unhandledRejection', onUnhandled);
      }
    });
  });

  describe('stores', () => {
    it('should share one token between two caches on one store', async () => {
      const store = createMemoryTokenStore({ clock });
      const first = cacheFor({ store });
      const second = cacheFor({ store });
      const token = await first.getToken();
      expect((await second.getToken()).accessToken).toBe(token.accessToken);
      expect(server.tokenRequests).toBe(1);
      expect(ofType('token-refreshed').map((event) => event.source)).toEqual(['provider', 'store']);
    });

    it('should make one request for two cold caches asking at once on one store', async () => {
      const store = createMemoryTokenStore({ clock });
      const caches = [cacheFor({ store }), cacheFor({ store })];
      const results = caches.map((cache) => track(cache.getToken()));
      await until(() => results.some((result) => result.settled), 'the first token');
      await advance(50);
      await until(() => results.every((result) => result.settled), 'the second token');
      expect(results[1]!.value?.accessToken).toBe(results[0]!.value?.accessToken);
      expect(server.tokenRequests).toBe(1);
    });

    it('should report store errors and still work when every store method throws', async () => {
      const broken = (): never => {
        throw new Error('store down');
      };
      const store: TokenStore = { get: broken, set: broken, delete: broken, lock: broken };
      const cache = cacheFor({ store });
      // No timer is advanced: a broken lock must not make the cache wait lockWaitMs for a holder.
      const token = await cache.getToken();
      expect(token.tokenType).toBe('Bearer');
      // After a failed read the lock is not tried: a store that fails holds no lock worth waiting for.
      expect(ofType('store-error').map((event) => event.operation)).toEqual(['get', 'set']);
      expect(await cache.getToken()).toBe(token);
      await expect(cache.invalidate(token.accessToken)).resolves.toBeUndefined();
      expect((await cache.getToken()).accessToken).not.toBe(token.accessToken);
      expect(server.tokenRequests).toBe(2);
    });

    it('should survive a lock whose release throws', async () => {
      const memory = createMemoryTokenStore({ clock });
      const store: TokenStore = {
        ...memory,
        lock: async () => ({
          release: () => {
            throw new Error('release failed');
          },
        }),
      };
      const cache = cacheFor({ store });
      await expect(cache.getToken()).resolves.toMatchObject({ tokenType: 'Bearer' });
      await flush();
      expect(ofType('store-error').map((event) => event.operation)).toEqual(['release']);
    });

    it('should wait for the lock holder’s token instead of requesting one', async () => {
      const store = createMemoryTokenStore({ clock });
      const holder = await store.lock!(provider.cacheKey, minute);
      const cache = cacheFor({ store });
      const waiting = track(cache.getToken());
      await advance(1_000);
      expect(waiting.settled).toBe(false);
      expect(server.tokenRequests).toBe(0);

      const issued = await provider.requestToken({ signal: new AbortController().signal, fetch, now: clock.now });
      const lifetimeMs = issued.expiresAt - clock.now();
      await store.set(provider.cacheKey, serializeToken({ ...issued, lifetimeMs }), lifetimeMs);
      await holder!.release();
      await advance(50);
      await until(() => waiting.settled, 'the holder’s token');
      expect(waiting.value?.accessToken).toBe(issued.accessToken);
      expect(server.tokenRequests).toBe(1);
      expect(ofType('lock-waited')).toEqual([expect.objectContaining({ received: true, waitedMs: 1_050 })]);
      expect(ofType('token-refreshed')[0]).toMatchObject({ source: 'store' });
    });

    it('should request a token itself after lockWaitMs when the holder publishes none', async () => {
      const store = createMemoryTokenStore({ clock });
      await store.lock!(provider.cacheKey, minute);
      const cache = cacheFor({ store, policy: { lockWaitMs: 2_000 } });
      const waiting = track(cache.getToken());
      await advance(1_950);
      await flush();
      expect(server.tokenRequests).toBe(0);
      expect(waiting.settled).toBe(false);

      await advance(50);
      await until(() => waiting.settled, 'the token');
      expect(waiting.value?.tokenType).toBe('Bearer');
      expect(server.tokenRequests).toBe(1);
      expect(ofType('lock-waited')).toEqual([expect.objectContaining({ received: false, waitedMs: 2_000 })]);
    });

    it('should stop waiting for the holder and request a token as soon as the store fails', async () => {
      const memory = createMemoryTokenStore({ clock });
      await memory.lock!(provider.cacheKey, minute);
      let reads = 0;
      const store: TokenStore = {
        ...memory,
        async get(key) {
          reads += 1;
          if (reads > 1) throw new Error('connection lost');
          return memory.get(key);
        },
      };
      const cache = cacheFor({ store, policy: { lockWaitMs: 5_000 } });
      const waiting = track(cache.getToken());
      await advance(50);
      await until(() => waiting.settled, 'the token');
      expect(waiting.value?.tokenType).toBe('Bearer');
      expect(server.tokenRequests).toBe(1);
      expect(ofType('store-error').map((event) => event.operation)).toEqual(['get']);
      expect(ofType('lock-waited')).toEqual([expect.objectContaining({ received: false, waitedMs: 50 })]);
    });

    it('should stop waiting for the holder after lockWaitMs worth of polls even when the injected clock stands still', async () => {
      const frozen: Clock = { now: () => start, monotonic: () => 0 };
      const store = createMemoryTokenStore({ clock: frozen });
      await store.lock!(provider.cacheKey, minute);
      const cache = createTokenCache(provider, {
        store,
        clock: frozen,
        policy: { lockWaitMs: 200 },
        onEvent: (event) => events.push(event),
      });
      const waiting = track(cache.getToken());
      await advance(150);
      await flush();
      expect(server.tokenRequests).toBe(0);
      await advance(50);
      await until(() => waiting.settled, 'the token');
      expect(server.tokenRequests).toBe(1);
      expect(ofType('lock-waited')).toEqual([expect.objectContaining({ received: false, waitedMs: 0 })]);
    });
  });

  describe('waiting for a lock holder', () => {
    const wakingStore = () => createWakingStore(createMemoryTokenStore({ clock }), clock);

    /** Has the gateway issue a token, and stores it as a holder would. */
    async function storeIssued(store: TokenStore): Promise<string> {
      const issued = await provider.requestToken({ signal: new AbortController().signal, fetch, now: clock.now });
      const lifetimeMs = issued.expiresAt - clock.now();
      await store.set(provider.cacheKey, serializeToken({ ...issued, lifetimeMs }), lifetimeMs);
      return issued.accessToken;
    }

    it('should take the holder’s token as soon as the store wakes it, with no poll interval', async () => {
      const store = wakingStore();
      const holder = await store.lock!(provider.cacheKey, minute);
      const cache = cacheFor({ store });
      const waiting = track(cache.getToken());
      await until(() => store.waits === 1, 'the wait');
      const accessToken = await storeIssued(store);
      await holder!.release();
      // No fake time passes: polling would need 50 ms.
      await until(() => waiting.settled, 'the holder’s token');
      expect(waiting.value?.accessToken).toBe(accessToken);
      expect(server.tokenRequests).toBe(1);
      expect(ofType('lock-waited')).toEqual([expect.objectContaining({ received: true, waitedMs: 0 })]);
    });

    it('should let one waiter of three take the lock when its holder fails, and the others take that token', async () => {
      const store = createMemoryTokenStore({ clock });
      const holder = await store.lock!(provider.cacheKey, minute);
      const caches = [cacheFor({ store }), cacheFor({ store }), cacheFor({ store })];
      const waiting = caches.map((cache) => track(cache.getToken()));
      await advance(500);
      // The holder gives up without storing a token (its request failed).
      await holder!.release();
      await advance(50);
      await until(() => waiting.some((result) => result.settled), 'the first token');
      await advance(50);
      await until(() => waiting.every((result) => result.settled), 'every token');
      expect(new Set(waiting.map((result) => result.value?.accessToken)).size).toBe(1);
      expect(server.tokenRequests).toBe(1);
      expect(ofType('lock-waited').filter((event) => event.lockTaken === true)).toHaveLength(1);
      expect(ofType('lock-waited').filter((event) => event.received)).toHaveLength(2);
    });

    it('should let one waiter take the lock when its holder died and the lock ran out, within lockWaitMs', async () => {
      const store = wakingStore();
      // A holder that died: its lock is never released and runs out after 2 s (a lease the holder no longer renews).
      await store.lock!(provider.cacheKey, 2_000);
      const caches = [cacheFor({ store }), cacheFor({ store }), cacheFor({ store })];
      const waiting = caches.map((cache) => track(cache.getToken()));
      await advance(2_000);
      await until(() => waiting.every((result) => result.settled), 'every token');
      expect(server.tokenRequests).toBe(1);
      expect(ofType('lock-waited').map((event) => event.waitedMs)).toEqual([2_000, 2_000, 2_000]);
    });

    it('should release its lock only once the token written under it has settled', async () => {
      const memory = createMemoryTokenStore({ clock });
      const order: string[] = [];
      let finishSet: (() => void) | undefined;
      const store: TokenStore = {
        ...memory,
        async set(key, value, ttlMs) {
          order.push('set started');
          await new Promise<void>((resolve) => {
            finishSet = resolve;
          });
          await memory.set(key, value, ttlMs);
          order.push('set done');
        },
        async lock(key, ttlMs) {
          const lock = await memory.lock!(key, ttlMs);
          return lock && { release: async () => void order.push('released') };
        },
      };
      const cache = cacheFor({ store });
      await cache.getToken();
      await flush();
      expect(order).toEqual(['set started']);
      finishSet!();
      await until(() => order.length === 3, 'the release');
      expect(order).toEqual(['set started', 'set done', 'released']);
    });

    it('should poll instead when the store’s wait fails, and report it', async () => {
      const memory = createMemoryTokenStore({ clock });
      const holder = await memory.lock!(provider.cacheKey, minute);
      const store: TokenStore = {
        ...memory,
        getEntry: memory.getEntry,
        waitForUnlock: async () => Promise.reject(new Error('subscriber down')),
      };
      const cache = cacheFor({ store });
      const waiting = track(cache.getToken());
      await advance(100);
      await storeIssued(store);
      await holder!.release();
      await advance(50);
      await until(() => waiting.settled, 'the holder’s token');
      expect(server.tokenRequests).toBe(1);
      expect(ofType('store-error').map((event) => event.operation)).toContain('wait');
    });
  });

  describe('an abandoned request', () => {
    it('should start a new token request when the one under way has outlived every bound, its timers never fired', async () => {
      // workerd ends a request's timers and promises with the request that started them: a token request a caller
      // gave up on never settles, and its timeout never fires. Time passes by the clock alone here, with no timer run.
      const base = testProvider(server);
      let requests = 0;
      provider = { ...base, requestToken: (context) => (++requests === 1 ? new Promise<never>(() => {}) : base.requestToken(context)) };
      const cache = cacheFor();
      const controller = new AbortController();
      const abandoned = cache.getToken({ signal: controller.signal });
      await flush();
      controller.abort();
      await expect(abandoned).rejects.toMatchObject({ name: 'AbortError' });

      vi.setSystemTime(Date.now() + minute);
      const token = await cache.getToken();
      expect(server.validTokens.has(token.accessToken)).toBe(true);
      expect(requests).toBe(2);
    });
  });

  describe('hung, poisoned and replayed stores', () => {
    const never = <T>(): Promise<T> => new Promise<T>(() => {});

    it.each(['get', 'set', 'lock', 'release'] as const)(
      'should settle every caller when the store’s %s never settles, and report it as a store-error',
      async (operation) => {
        const memory = createMemoryTokenStore({ clock });
        const store: TokenStore = {
          ...memory,
          get: operation === 'get' ? never : memory.get,
          set: operation === 'set' ? never : memory.set,
          lock:
            operation === 'lock'
              ? never
              : operation === 'release'
                ? async (key, ttlMs) => ((await memory.lock!(key, ttlMs)) === undefined ? undefined : { release: never })
                : memory.lock,
        };
        const cache = cacheFor({ store, policy: { storeTimeoutMs: 500 } });
        const waiting = track(cache.getToken());
        // A get or lock on the caller's path holds it up to storeTimeoutMs; a set or release does not hold it at all.
        if (operation === 'get' || operation === 'lock') await advance(500);
        await until(() => waiting.settled, 'the caller');
        expect(waiting.value?.tokenType).toBe('Bearer');
        await advance(500);
        const errors = ofType('store-error').filter((event) => event.operation === operation);
        expect(errors.length).toBeGreaterThan(0);
        expect(errors[0]!.error).toMatchObject({ code: 'X_TOKEN_STORE_FAILED', reason: 'timeout', operation, provider: 'test' });
      },
    );

    it('should settle invalidate() when the store’s get or delete never settles', async () => {
      const memory = createMemoryTokenStore({ clock });
      const store: TokenStore = { ...memory, delete: never };
      const cache = cacheFor({ store });
      const token = await cache.getToken();
      const invalidating = track(cache.invalidate(token.accessToken));
      await advance(1_000);
      await until(() => invalidating.settled, 'invalidate()');
      expect(ofType('store-error').map((event) => event.operation)).toContain('delete');
    });

    it.each([
      ['an access token that cannot go into a header', { v: 1, accessToken: 'x\r\ny', expiresAt: 'far', lifetimeMs: hour }],
      ['an expiry of 1e300', { v: 1, accessToken: 'forged-token', expiresAt: 1e300, lifetimeMs: hour }],
      [
        'an expiry years away for an hour-long token',
        { v: 1, accessToken: 'forged-token', expiresAt: start + 5 * 365 * 24 * hour, lifetimeMs: hour },
      ],
      ['a lifetime of 0', { v: 1, accessToken: 'forged-token', expiresAt: start + hour, lifetimeMs: 0 }],
      ['a string expiry', { v: 1, accessToken: 'forged-token', expiresAt: String(start + hour), lifetimeMs: hour }],
      ['not JSON', 'forged-token'],
    ])('should treat a stored value with %s as absent, reported without quoting it', async (_, poisoned) => {
      const store = createMemoryTokenStore({ clock });
      const value = typeof poisoned === 'string' ? poisoned : JSON.stringify(poisoned);
      await store.set(provider.cacheKey, value, hour);
      const cache = cacheFor({ store });
      const token = await cache.getToken();
      expect(server.validTokens.has(token.accessToken)).toBe(true);
      const [report] = ofType('store-error');
      expect(report).toMatchObject({ operation: 'get', error: { code: 'X_TOKEN_STORE_FAILED', reason: 'invalid-value' } });
      const text = `${(report!.error as Error).message} ${JSON.stringify(report)}`;
      expect(text).not.toContain('forged-token');
      expect(text).not.toContain('x\r\ny');
      // The poisoned value is replaced by the gateway's token, so the next process reads a good one.
      expect(parseStoredToken(await store.get(provider.cacheKey))?.accessToken).toBe(token.accessToken);
    });

    it('should never take back a token invalidated in another process, even when its stored value is written back', async () => {
      const store = createMemoryTokenStore({ clock });
      const first = cacheFor({ store });
      const old = await first.getToken();
      const saved = await store.get(provider.cacheKey);
      await first.invalidate(old.accessToken);
      // A writer of the store replays the saved value after the 401 removed it.
      await store.set(provider.cacheKey, saved!, hour);

      const fresh = await cacheFor({ store }).getToken();
      expect(fresh.accessToken).not.toBe(old.accessToken);
      expect(server.tokenRequests).toBe(2);
    });
  });

  describe('forceRefresh', () => {
    it('should ignore the cached token and join a request already under way', async () => {
      const cache = cacheFor();
      const old = await cache.getToken();
      server.delayMs = 100;
      const forced = [cache.getToken({ forceRefresh: true }), cache.getToken({ forceRefresh: true })];
      await until(() => server.tokenRequests === 2, 'the forced request');
      await advance(100);
      const [first, second] = await Promise.all(forced);
      expect(first).toBe(second);
      expect(first!.accessToken).not.toBe(old.accessToken);
      expect(server.tokenRequests).toBe(2);
      expect(ofType('token-requested')[1]?.reason).toBe('forced');
    });
  });
});
