import { inspect } from 'node:util';
import {
  type ConfigurationError,
  createTokenCache,
  isConfigurationError,
  isTokenRequestError,
  isTokenResponseError,
  type TokenRequestContext,
  type TokenRequestError,
} from '@x/core';
import { createCanary } from '@x/core/testing';
import { createManualClock } from '@x/test-support/clock';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { portOneJwt, portOneTokenBody } from '../test/portone-conformance.js';
import { createPortOneProvider } from './portone-token-provider.js';
import { createPortOneEmulator, type PortOneEmulator } from './testing/index.js';

let emulator: PortOneEmulator;
const time = Date.UTC(2026, 10, 30, 0, 0, 0);
const seconds = Math.floor(time / 1000);

beforeAll(async () => {
  emulator = await createPortOneEmulator({ now: () => time });
});

afterAll(async () => {
  await emulator.close();
});

beforeEach(() => {
  emulator.clearFaults();
  emulator.setClockOffset(0);
  emulator.revoke();
  emulator.resetCounters();
});

function context(state?: string): TokenRequestContext {
  return { signal: AbortSignal.timeout(5_000), fetch: (input, init) => globalThis.fetch(input, init), now: () => time, state };
}

function provider(apiSecret = emulator.defaultMerchant.apiSecret) {
  return createPortOneProvider({ apiSecret, baseUrl: emulator.url });
}

async function failure(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the promise to reject');
}

function expectNothingOf(value: unknown, ...secrets: string[]): void {
  for (const text of [JSON.stringify(value), inspect(value, { depth: 10, showHidden: true }), String(value)]) {
    for (const secret of secrets) expect(text).not.toContain(secret);
  }
}

describe('createPortOneProvider in token mode', () => {
  it('should log in with the API secret and take the expiry from the JWT, handing the refresh token back as state', async () => {
    const token = await provider().requestToken(context());
    expect(token.expiresAt).toBe(time + 30 * 60_000);
    expect(token.state).toMatch(/^xcanary/);
    expect(token.diagnostics).toEqual({ endpoint: 'login', expiry: 'jwt', lifetimeSeconds: 1800, clockSkewMs: 0 });
    expect(emulator.counters).toMatchObject({ loginRequests: 1, refreshRequests: 0, tokensIssued: 1 });
    expect(emulator.seen('login')).toMatchObject([
      { method: 'POST', path: '/login/api-secret', headers: { 'content-type': 'application/json' } },
    ]);
  });

  it('should refresh with the state it is handed, and get a new refresh token each time', async () => {
    const login = await provider().requestToken(context());
    const refreshed = await provider().requestToken(context(login.state));
    expect(refreshed.diagnostics).toMatchObject({ endpoint: 'refresh', expiry: 'jwt' });
    expect(refreshed.accessToken).not.toBe(login.accessToken);
    expect(refreshed.state).not.toBe(login.state);
    expect(emulator.counters).toMatchObject({ loginRequests: 1, refreshRequests: 1, spentRefreshTokens: 0 });
  });

  it('should log in once when the refresh token was spent, and say so in the diagnostics', async () => {
    const first = await provider().requestToken(context());
    // Another process logs in with the same secret: the first refresh token is spent.
    await provider().requestToken(context());
    const token = await provider().requestToken(context(first.state));
    expect(token.diagnostics).toMatchObject({ endpoint: 'login', refreshRefusedStatus: 401 });
    expect(emulator.counters).toMatchObject({ loginRequests: 3, refreshRequests: 1, spentRefreshTokens: 1 });
  });

  it('should log in once after a refused refresh and no more when the login fails too, throwing the login error', async () => {
    const { state } = await provider().requestToken(context());
    emulator.resetCounters();
    emulator.fault({ kind: 'body', status: 401, body: { type: 'UNAUTHORIZED', message: 'invalid refresh token' }, target: 'refresh' });
    emulator.fault({ kind: 'body', status: 401, body: { type: 'UNAUTHORIZED', message: 'invalid api secret' }, target: 'login' });
    const error = (await failure(provider().requestToken(context(state)))) as TokenRequestError;
    expect(error).toMatchObject({ reason: 'rejected', retryable: false, status: 401, providerMessage: 'invalid api secret' });
    expect(error.message).toContain('/login/api-secret');
    expect(emulator.counters).toMatchObject({ refreshRequests: 1, loginRequests: 1 });
  });

  it('should not log in when a refresh fails for another reason (the gateway, the network): the cache retries', async () => {
    const { state = '' } = await provider().requestToken(context());
    for (const fault of [{ kind: 'status', status: 503 }, { kind: 'reset' }] as const) {
      emulator.resetCounters();
      emulator.fault({ ...fault, target: 'refresh' });
      const error = (await failure(provider().requestToken(context(state)))) as TokenRequestError;
      expect(isTokenRequestError(error)).toBe(true);
      expect(error.retryable).toBe(true);
      expect(emulator.counters).toMatchObject({ refreshRequests: 1, loginRequests: 0 });
      expectNothingOf(error, state, emulator.defaultMerchant.apiSecret);
    }
  });

  it("should count the JWT's lifetime on our clock when PortOne's is 9 hours ahead or 10 minutes behind", async () => {
    for (const offset of [9 * 3_600_000, -600_000]) {
      emulator.setClockOffset(offset);
      const token = await provider().requestToken(context());
      expect(token.expiresAt).toBe(time + 30 * 60_000);
      expect(token.diagnostics).toMatchObject({ expiry: 'jwt', clockSkewMs: offset });
    }
  });

  it('should assume 30 minutes from arrival for a token without exp, and say so', async () => {
    for (const accessToken of [createCanary('opaque-'), portOneJwt({ sub: 'store', iat: seconds })]) {
      emulator.fault({ kind: 'raw', body: portOneTokenBody(accessToken) });
      const token = await provider().requestToken(context());
      expect(token).toMatchObject({ accessToken, expiresAt: time + 30 * 60_000, diagnostics: { expiry: 'assumed-30-minutes' } });
    }
  });

  it('should take exp on our clock when the JWT has no iat', async () => {
    emulator.fault({ kind: 'raw', body: portOneTokenBody(portOneJwt({ exp: seconds + 600 })) });
    const token = await provider().requestToken(context());
    expect(token).toMatchObject({ expiresAt: time + 600_000, diagnostics: { expiry: 'jwt-exp' } });
  });

  it('should refuse claims that cannot be an expiry, naming the field and never quoting the token', async () => {
    const cases = [
      [{ iat: seconds, exp: seconds }, 'no later than it was issued'],
      [{ exp: String(seconds + 60) }, 'claim "exp" is not whole epoch seconds'],
      [{ iat: seconds, exp: 1e300 }, 'claim "exp" is not whole epoch seconds'],
      [{ iat: -1, exp: seconds }, 'claim "iat" is not whole epoch seconds'],
    ] as const;
    for (const [claims, problem] of cases) {
      const accessToken = portOneJwt({ ...claims, jti: createCanary() });
      emulator.fault({ kind: 'raw', body: portOneTokenBody(accessToken) });
      const error = await failure(provider().requestToken(context()));
      expect(isTokenResponseError(error), problem).toBe(true);
      expect(error).toMatchObject({ provider: 'portone', field: 'accessToken' });
      expect((error as Error).message).toContain(problem);
      expectNothingOf(error, accessToken);
    }
  });

  it('should turn a wrong secret into a non-retryable TokenRequestError with the type as its code, without the secret', async () => {
    const secret = createCanary('wrong-');
    const error = (await failure(provider(secret).requestToken(context()))) as TokenRequestError;
    expect(error).toMatchObject({
      provider: 'portone',
      reason: 'rejected',
      retryable: false,
      status: 401,
      providerCode: 'UNAUTHORIZED',
      providerMessage: 'The API secret is not valid.',
    });
    expect(error.message).toContain('check apiSecret');
    expectNothingOf(error, secret);
  });

  it("should report PortOne's 400 INVALID_REQUEST, echoing secret and refresh token redacted", async () => {
    const { state = '' } = await provider().requestToken(context());
    const { apiSecret } = emulator.defaultMerchant;
    emulator.fault({
      kind: 'body',
      status: 400,
      body: { type: 'INVALID_REQUEST', message: `bad ${state} for ${apiSecret}` },
      target: 'token',
      count: 2,
    });
    const error = (await failure(provider().requestToken(context(state)))) as TokenRequestError;
    expect(error).toMatchObject({ reason: 'rejected', status: 400, providerCode: 'INVALID_REQUEST' });
    expectNothingOf(error, state, apiSecret);
  });

  it('should keep the secret out of the provider as inspected or serialised, and key the cache by secret and mode', () => {
    const { apiSecret } = emulator.defaultMerchant;
    const token = provider();
    const other = provider(createCanary());
    const fixed = createPortOneProvider({ apiSecret, baseUrl: emulator.url, mode: 'static' });
    expectNothingOf(token, apiSecret);
    expect(JSON.parse(JSON.stringify(token))).toEqual({
      provider: 'portone',
      mode: 'token',
      baseUrl: emulator.url,
      cacheKey: token.cacheKey,
    });
    expect(new Set([token.cacheKey, other.cacheKey, fixed.cacheKey]).size).toBe(3);
  });
});

describe('createPortOneProvider in static mode', () => {
  it('should give `PortOne <apiSecret>` as the whole Authorization value and refuse to request a token', async () => {
    const { apiSecret } = emulator.defaultMerchant;
    const fixed = createPortOneProvider({ apiSecret, baseUrl: emulator.url, mode: 'static' });
    expect(fixed.staticAuthorization?.()).toBe(`PortOne ${apiSecret}`);
    const error = (await failure(fixed.requestToken(context()))) as ConfigurationError;
    expect(isConfigurationError(error)).toBe(true);
    expect(error.path).toBe('mode');
    expectNothingOf(fixed, apiSecret);
    expectNothingOf(error, apiSecret);
    expect(emulator.counters.tokenRequests).toBe(0);
  });
});

describe('PortOne tokens through the cache, on an injected clock', () => {
  it('should refresh (not log in) when the access token has expired, and log in again once the refresh token is a day old', async () => {
    const clock = createManualClock(time);
    const clocked = await createPortOneEmulator({ now: clock.now });
    try {
      const cache = createTokenCache(createPortOneProvider({ apiSecret: clocked.defaultMerchant.apiSecret, baseUrl: clocked.url }), {
        clock,
      });
      const first = await cache.getToken();
      clock.advance(31 * 60_000);
      const second = await cache.getToken();
      expect(second.accessToken).not.toBe(first.accessToken);
      expect(clocked.counters).toMatchObject({ loginRequests: 1, refreshRequests: 1 });
      clock.advance(25 * 3_600_000);
      await cache.getToken();
      expect(clocked.counters).toMatchObject({ loginRequests: 2, refreshRequests: 2, spentRefreshTokens: 0, rejectedTokenRequests: 1 });
    } finally {
      await clocked.close();
    }
  });
});
