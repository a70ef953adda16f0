import { inspect } from 'node:util';
import { createAuthFetch, createTokenCache, isTokenRequestError, isTokenResponseError, type TokenEvent } from '@x/core';
import { createManualClock, type ManualClock } from '@x/test-support/clock';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createVippsProvider, type VippsProviderSettings } from './index.js';
import { createVippsEmulator, type VippsEmulator, vippsEmulatorDefaultMerchant } from './testing/index.js';

const transportHeaders = new Set([
  'host',
  'connection',
  'content-length',
  'accept',
  'accept-encoding',
  'accept-language',
  'sec-fetch-mode',
  'user-agent',
]);

const merchant = {
  clientId: vippsEmulatorDefaultMerchant.clientId,
  clientSecret: vippsEmulatorDefaultMerchant.clientSecret,
  subscriptionKey: vippsEmulatorDefaultMerchant.subscriptionKey,
};

let emulator: VippsEmulator;
let clock: ManualClock;
let events: TokenEvent[];

function settings(overrides: Partial<VippsProviderSettings> = {}): VippsProviderSettings {
  return { ...merchant, baseUrl: emulator.url, ...overrides };
}

function ownHeaders(headers: Readonly<Record<string, string>> | undefined): Record<string, string> {
  return Object.fromEntries(Object.entries(headers ?? {}).filter(([name]) => !transportHeaders.has(name)));
}

beforeEach(async () => {
  clock = createManualClock(1_700_000_000_000);
  events = [];
  emulator = await createVippsEmulator({ now: clock.now });
});

afterEach(async () => {
  await emulator.close();
});

describe('createAuthFetch with a Vipps provider', () => {
  it('should send the bearer token with the subscription key, MSN and Vipps-System-* headers on API calls', async () => {
    const provider = createVippsProvider(
      settings({
        merchantSerialNumber: '123456',
        systemName: 'acme',
        systemVersion: '3.1.2',
        pluginName: 'acme-webshop',
        pluginVersion: '4.5.6',
      }),
    );
    const vipps = createAuthFetch(provider, { clock });
    const response = await vipps('/epayment/v1/payments/order-1');
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ reference: 'order-1', merchantSerialNumber: '123456' });
    const [seen] = emulator.seen('payments');
    const token = /^Bearer (.+)$/.exec(seen?.headers.authorization ?? '')?.[1];
    expect(token).toMatch(/^eyJ/);
    expect(ownHeaders(seen?.headers)).toEqual({
      authorization: `Bearer ${token}`,
      'ocp-apim-subscription-key': merchant.subscriptionKey,
      'merchant-serial-number': '123456',
      'vipps-system-name': 'acme',
      'vipps-system-version': '3.1.2',
      'vipps-system-plugin-name': 'acme-webshop',
      'vipps-system-plugin-version': '4.5.6',
    });
  });

  it("should keep a caller's own Merchant-Serial-Number (a partner acting for a sales unit)", async () => {
    const vipps = createAuthFetch(createVippsProvider(settings({ merchantSerialNumber: '123456' })), { clock });
    const response = await vipps('/epayment/v1/payments/order-2', { headers: { 'Merchant-Serial-Number': '654321' } });
    expect(await response.json()).toMatchObject({ merchantSerialNumber: '654321' });
    expect(emulator.seen('payments')[0]?.headers['merchant-serial-number']).toBe('654321');
  });

  it('should make one token request for many concurrent calls', async () => {
    const vipps = createAuthFetch(createVippsProvider(settings()), { clock });
    const responses = await Promise.all(Array.from({ length: 50 }, (_, index) => vipps(`/epayment/v1/payments/order-${index}`)));
    expect(responses.map((response) => response.status)).toEqual(Array.from({ length: 50 }, () => 200));
    expect(emulator.counters.tokenRequests).toBe(1);
    expect(emulator.counters.apiCalls).toBe(50);
  });

  it('should get a new token and retry once when the gateway revokes the token', async () => {
    const vipps = createAuthFetch(createVippsProvider(settings()), { clock });
    expect((await vipps('/epayment/v1/payments/order-3')).status).toBe(200);
    emulator.revoke();
    expect((await vipps('/epayment/v1/payments/order-3')).status).toBe(200);
    expect(emulator.counters.tokenRequests).toBe(2);
    expect(emulator.counters.apiCalls).toBe(3);
  });

  it('should call the test or production host, never the other', async () => {
    for (const [environment, origin] of [
      ['test', 'https://apitest.vipps.no'],
      ['production', 'https://api.vipps.no'],
    ] as const) {
      const urls: string[] = [];
      // Records each URL, then answers from the emulator: the real hosts are never called.
      const recording: typeof fetch = (input, init) => {
        const url = new URL(String(input));
        urls.push(url.href);
        return fetch(`${emulator.url}${url.pathname}`, init);
      };
      const vipps = createAuthFetch(createVippsProvider({ ...merchant, environment }), { clock, fetch: recording });
      expect((await vipps('/epayment/v1/payments/order-4')).status).toBe(200);
      expect(urls).toEqual([`${origin}/accesstoken/get`, `${origin}/epayment/v1/payments/order-4`]);
    }
  });

  it('should work with a partner token and no subscription key', async () => {
    const { subscriptionKey: _, ...partner } = merchant;
    const vipps = createAuthFetch(
      createVippsProvider({ ...partner, baseUrl: emulator.url, tokenEndpoint: 'partner', merchantSerialNumber: '123456' }),
      {
        clock,
      },
    );
    const response = await vipps('/epayment/v1/payments/order-5');
    expect(response.status).toBe(200);
    expect(emulator.counters.partnerTokenRequests).toBe(1);
    expect(ownHeaders(emulator.seen('payments')[0]?.headers)).toEqual({
      authorization: expect.stringMatching(/^Bearer eyJ/),
      'merchant-serial-number': '123456',
    });
  });

  it('should renew a 15-minute partner token before it expires', async () => {
    const cache = createTokenCache(createVippsProvider(settings({ tokenEndpoint: 'partner' })), { clock, random: () => 0 });
    const first = await cache.getToken();
    expect(first.expiresAt).toBe(clock.now() + 900_000);
    clock.advance(900_000 - 5_000);
    const second = await cache.getToken();
    expect(second.accessToken).not.toBe(first.accessToken);
    expect(emulator.counters.partnerTokenRequests).toBe(2);
  });
});

describe('createTokenCache with a Vipps provider under faults', () => {
  it('should keep serving the valid token when a refresh fails, then take the new one', async () => {
    const cache = createTokenCache(createVippsProvider(settings()), { clock, random: () => 0, onEvent: (event) => events.push(event) });
    const first = await cache.getToken();
    clock.advance(3_600_000 - 200_000);
    emulator.fault({ kind: 'status', status: 503, count: 1 });
    expect((await cache.getToken()).accessToken).toBe(first.accessToken);
    await vi.waitFor(() => expect(events.map((event) => event.type)).toContain('token-served-stale'), { timeout: 5_000 });
    const stale = events.find((event) => event.type === 'token-served-stale');
    expect(emulator.counters.tokenRequests).toBe(2);

    const vipps = createAuthFetch(cache);
    expect((await vipps('/epayment/v1/payments/order-6')).status).toBe(200);

    // The cache backs off before asking again: once that has passed, the next call starts a refresh that succeeds.
    clock.advance((stale?.type === 'token-served-stale' ? stale.nextAttemptInMs : 0) + 1);
    expect((await cache.getToken()).accessToken).toBe(first.accessToken);
    await vi.waitFor(() => expect(events.filter((event) => event.type === 'token-refreshed')).toHaveLength(2), { timeout: 5_000 });
    expect(emulator.counters.tokenRequests).toBe(3);
    expect((await cache.getToken()).accessToken).not.toBe(first.accessToken);
  });

  it('should report the clock skew in the token-refreshed event', async () => {
    emulator.setClockOffset(-60_000);
    const cache = createTokenCache(createVippsProvider(settings()), { clock, onEvent: (event) => events.push(event) });
    await cache.getToken();
    const refreshed = events.find((event) => event.type === 'token-refreshed');
    expect(refreshed).toMatchObject({ diagnostics: { clockSkewMs: -60_000, tokenEndpoint: 'accesstoken' } });
  });

  it.each([
    ['503', { kind: 'status', status: 503 } as const, { reason: 'http', retryable: true, status: 503 }],
    ['an HTML page', { kind: 'html' } as const, { reason: 'http', retryable: true, status: 502 }],
    ['a dropped connection', { kind: 'drop' } as const, { reason: 'network', retryable: true }],
    ['a truncated body', { kind: 'truncated' } as const, { reason: 'network', retryable: true }],
  ])('should reject with a typed TokenRequestError when there is no token and the gateway sends %s', async (_, fault, expected) => {
    emulator.fault(fault);
    const vipps = createAuthFetch(createVippsProvider(settings()), { clock });
    const error = await vipps('/epayment/v1/payments/order-7').catch((caught: unknown) => caught);
    expect(isTokenRequestError(error)).toBe(true);
    expect(error).toMatchObject({ provider: 'vipps', ...expected });
    expect(emulator.counters.apiCalls).toBe(0);
  });

  it('should reject with a TokenResponseError when the body is malformed', async () => {
    emulator.fault({ kind: 'malformed' });
    const cache = createTokenCache(createVippsProvider(settings()), { clock });
    const error = await cache.getToken().catch((caught: unknown) => caught);
    expect(isTokenResponseError(error)).toBe(true);
  });

  it('should time out a slow token endpoint', async () => {
    emulator.fault({ kind: 'slow', delayMs: 3_000 });
    const cache = createTokenCache(createVippsProvider(settings()), { clock, policy: { requestTimeoutMs: 100 } });
    const error = await cache.getToken().catch((caught: unknown) => caught);
    expect(error).toMatchObject({ reason: 'timeout', retryable: true });
  });

  it('should answer a slow token endpoint once it answers within the timeout', async () => {
    emulator.fault({ kind: 'slow', delayMs: 50, count: 1 });
    const cache = createTokenCache(createVippsProvider(settings()), { clock, policy: { requestTimeoutMs: 5_000 } });
    expect((await cache.getToken()).accessToken).toMatch(/^eyJ/);
  });

  it('should fail a wrong secret once, not retryably, without leaking it, and not ask again during the cooldown', async () => {
    const secret = 'wrong-secret-4a7c';
    const vipps = createAuthFetch(createVippsProvider(settings({ clientSecret: secret })), { clock });
    const error = await vipps('/epayment/v1/payments/order-8').catch((caught: unknown) => caught);
    expect(error).toMatchObject({ reason: 'rejected', retryable: false, status: 401, providerCode: 'invalid_client' });
    for (const text of [(error as Error).message, JSON.stringify(error), inspect(error, { showHidden: true, depth: 10 })]) {
      expect(text).not.toContain(secret);
      expect(text).not.toContain(merchant.subscriptionKey);
    }
    const again = await vipps('/epayment/v1/payments/order-8').catch((caught: unknown) => caught);
    expect(again).toBe(error);
    expect(emulator.counters.tokenRequests).toBe(1);
  });

  it('should fail a wrong subscription key as rejected, without leaking it', async () => {
    const key = 'wrong-key-93bd';
    const vipps = createAuthFetch(createVippsProvider(settings({ subscriptionKey: key })), { clock });
    const error = await vipps('/epayment/v1/payments/order-9').catch((caught: unknown) => caught);
    expect(error).toMatchObject({ reason: 'rejected', retryable: false, status: 401 });
    for (const text of [(error as Error).message, JSON.stringify(error), inspect(error, { showHidden: true, depth: 10 })]) {
      expect(text).not.toContain(key);
    }
  });
});
