import { advanceFakeTime as advance, createFakeTimersClock, type FakeTimersClock, untilIo as until } from '@x/test-support/clock';
import { startTestTokenServer, type TestTokenServer, testProvider } from '@x/test-support/token-server';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { CachePolicy } from './cache-policy.js';
import { createTokenCache, type TokenCache } from './token-cache.js';
import type { TokenEvent } from './token-events.js';

const hour = 3_600_000;
const minute = 60_000;
const start = Date.UTC(2025, 0, 1);

let server: TestTokenServer;
let clock: FakeTimersClock;
let events: TokenEvent[];

beforeEach(async () => {
  vi.useFakeTimers({ now: start, toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });
  clock = createFakeTimersClock();
  server = await startTestTokenServer({ now: () => clock.now() });
  events = [];
});

afterEach(async () => {
  await server.close();
  vi.useRealTimers();
});

/** `random: () => 0`: no refresh-ahead jitter, and every backoff step is the 100 ms floor. */
function cacheFor(policy: Partial<CachePolicy> = {}): TokenCache {
  return createTokenCache(testProvider(server), { clock, random: () => 0, policy, onEvent: (event) => events.push(event) });
}

const served = (type: TokenEvent['type']): number => events.filter((event) => event.type === type).length;

describe('TokenCache.health', () => {
  it('should be cold before the first token, and while the first request is under way', async () => {
    const cache = cacheFor();
    expect(cache.health()).toEqual({
      state: 'cold',
      expiresInMs: undefined,
      requesting: false,
      retryInMs: undefined,
      lastError: undefined,
    });

    server.delayMs = 1_000;
    const first = cache.getToken();
    await until(() => server.tokenRequests === 1, 'the first request');
    expect(cache.health()).toMatchObject({ state: 'cold', requesting: true, expiresInMs: undefined });
    await advance(1_000);
    await first;
  });

  it("should be fresh with a token, and count its time down on the cache's clock", async () => {
    const cache = cacheFor();
    await cache.getToken();
    expect(cache.health()).toEqual({ state: 'fresh', expiresInMs: hour, requesting: false, retryInMs: undefined, lastError: undefined });
    await advance(20 * minute);
    expect(cache.health()).toMatchObject({ state: 'fresh', expiresInMs: 40 * minute });
  });

  it('should read the state without starting a refresh, even in the refresh-ahead window', async () => {
    const cache = cacheFor();
    await cache.getToken();
    await advance(hour - 2 * minute);
    expect(cache.health()).toMatchObject({ state: 'fresh', requesting: false, expiresInMs: 2 * minute });
    await advance(0);
    expect(server.tokenRequests).toBe(1);
    expect(served('token-requested')).toBe(1);
  });

  it('should be refreshing while a background refresh runs, the token still served', async () => {
    const cache = cacheFor();
    await cache.getToken();
    await advance(hour - 2 * minute);
    server.delayMs = 1_000;
    await cache.getToken();
    await until(() => server.tokenRequests === 2, 'the background refresh');
    expect(cache.health()).toMatchObject({ state: 'refreshing', requesting: true, expiresInMs: 2 * minute });

    await advance(1_000);
    await until(() => served('token-refreshed') === 2, 'the new token');
    expect(cache.health()).toMatchObject({ state: 'fresh', requesting: false, expiresInMs: hour });
  });

  it('should be serving-stale after a failed refresh, with the error and the time to the next attempt, then fresh again', async () => {
    const cache = cacheFor();
    await cache.getToken();
    await advance(hour - 2 * minute);
    server.mode = 503;
    await cache.getToken();
    await until(() => served('token-served-stale') === 1, 'the failed refresh');
    expect(cache.health()).toEqual({
      state: 'serving-stale',
      expiresInMs: 2 * minute,
      requesting: false,
      retryInMs: 100,
      lastError: { code: 'X_TOKEN_REQUEST_FAILED', reason: 'http', status: 503 },
    });
    await advance(40);
    expect(cache.health()).toMatchObject({ state: 'serving-stale', retryInMs: 60 });
    await advance(60);
    expect(cache.health()).toMatchObject({ state: 'serving-stale', retryInMs: 0 });

    server.mode = 'ok';
    await cache.getToken();
    await until(() => served('token-refreshed') === 2, 'the new token');
    expect(cache.health()).toEqual({ state: 'fresh', expiresInMs: hour, requesting: false, retryInMs: undefined, lastError: undefined });
  });

  it('should be failing with no token after a retryable failure, through the backoff step and the retry', async () => {
    const cache = cacheFor();
    server.mode = 'reset';
    await expect(cache.getToken()).rejects.toMatchObject({ reason: 'network' });
    expect(cache.health()).toEqual({
      state: 'failing',
      expiresInMs: undefined,
      requesting: false,
      retryInMs: 100,
      lastError: { code: 'X_TOKEN_REQUEST_FAILED', reason: 'network' },
    });
    await advance(100);
    expect(cache.health()).toMatchObject({ state: 'failing', retryInMs: 0 });

    server.mode = 'ok';
    server.delayMs = 1_000;
    const retry = cache.getToken();
    await until(() => server.tokenRequests === 2, 'the retry');
    expect(cache.health()).toMatchObject({ state: 'failing', requesting: true });
    await advance(1_000);
    await retry;
    expect(cache.health()).toMatchObject({ state: 'fresh', lastError: undefined });
  });

  it('should be failing once a served token has gone stale after a failed refresh', async () => {
    const cache = cacheFor();
    await cache.getToken();
    await advance(hour - 2 * minute);
    server.mode = 503;
    await cache.getToken();
    await until(() => served('token-served-stale') === 1, 'the failed refresh');
    await advance(2 * minute - 10_000);
    expect(cache.health()).toMatchObject({ state: 'failing', expiresInMs: undefined, retryInMs: 0, lastError: { status: 503 } });
  });

  it('should be cooling-down after the gateway rejected the credentials, for failureCooldownMs', async () => {
    const cache = cacheFor({ failureCooldownMs: 30_000 });
    server.mode = 401;
    await expect(cache.getToken()).rejects.toMatchObject({ reason: 'rejected' });
    expect(cache.health()).toEqual({
      state: 'cooling-down',
      expiresInMs: undefined,
      requesting: false,
      retryInMs: 30_000,
      lastError: { code: 'X_TOKEN_REQUEST_FAILED', reason: 'rejected', status: 401 },
    });
    await advance(12_000);
    expect(cache.health()).toMatchObject({ state: 'cooling-down', retryInMs: 18_000 });
  });

  it('should be cold again once a dropped token leaves nothing to serve, and never show a token', async () => {
    const cache = cacheFor();
    const { accessToken } = await cache.getToken();
    expect(JSON.stringify(cache.health())).not.toContain(accessToken);
    await cache.invalidate(accessToken);
    expect(cache.health()).toMatchObject({ state: 'cold', expiresInMs: undefined, lastError: undefined });
  });

  it('should not count a token shorter than minValidityMs as served', async () => {
    const cache = cacheFor({ minValidityMs: 30_000 });
    await cache.getToken();
    await advance(hour - 30_000);
    expect(cache.health()).toMatchObject({ state: 'cold', expiresInMs: undefined });
    await advance(0);
    expect(server.tokenRequests).toBe(1);
  });
});
