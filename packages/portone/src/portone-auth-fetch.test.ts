import { createAuthFetch, createMerchantRegistry, isConfigurationError, isForeignOriginError } from '@x/core';
import { startForeignOrigin } from '@x/core/testing';
import { createAuthInterceptor } from '@x/core/undici';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createPortOneProvider } from './portone-token-provider.js';
import { createPortOneEmulator, type PortOneEmulator } from './testing/index.js';

let emulator: PortOneEmulator;

beforeAll(async () => {
  emulator = await createPortOneEmulator();
});

afterAll(async () => {
  await emulator.close();
});

beforeEach(() => {
  emulator.clearFaults();
  emulator.revoke();
  emulator.resetCounters();
});

const settings = (mode: 'token' | 'static') => ({ apiSecret: emulator.defaultMerchant.apiSecret, baseUrl: emulator.url, mode });

describe('PortOne through the bearer fetch', () => {
  it('should log in once for concurrent calls, and refresh (not log in) after a 401', async () => {
    const portone = createAuthFetch(createPortOneProvider(settings('token')));
    const statuses = await Promise.all([1, 2, 3].map(async (n) => (await portone(`/payments/payment-${n}`)).status));
    expect(statuses).toEqual([200, 200, 200]);
    expect(emulator.revoke()).toBe(1);
    expect((await portone('/payments/payment-4')).status).toBe(200);
    expect(emulator.counters).toMatchObject({ loginRequests: 1, refreshRequests: 1, unauthorizedApiCalls: 1, staticApiCalls: 0 });
    expect(emulator.seen('api').map((seen) => seen.headers.authorization?.split(' ')[0])).toEqual(Array(5).fill('Bearer'));
  });

  it('should send `PortOne <apiSecret>` in static mode with no token request, and never to another origin', async () => {
    const foreign = await startForeignOrigin('{}');
    try {
      const portone = createAuthFetch(createPortOneProvider(settings('static')));
      for (const n of [1, 2, 3]) expect((await portone(`/payments/payment-${n}`)).status).toBe(200);
      await expect(portone(`${foreign.url}/payments/payment-1`)).rejects.toSatisfy(isForeignOriginError);
      expect(foreign.received).toEqual([]);
      expect(emulator.counters).toMatchObject({ tokenRequests: 0, apiCalls: 3, staticApiCalls: 3 });
    } finally {
      await foreign.close();
    }
  });

  it('should hand back a 401 in static mode as it is, sent once', async () => {
    const portone = createAuthFetch(createPortOneProvider({ ...settings('static'), apiSecret: 'xcanary-wrong-secret' }));
    const response = await portone('/payments/payment-1');
    expect(response.status).toBe(401);
    expect(await response.json()).toMatchObject({ type: 'UNAUTHORIZED' });
    expect(emulator.counters).toMatchObject({ apiCalls: 1, tokenRequests: 0 });
  });

  it('should send the static credential through the undici interceptor too', async () => {
    const dispatcher = new Agent().compose(createAuthInterceptor(createPortOneProvider(settings('static'))));
    try {
      const answer = await request(`${emulator.url}/payments/payment-1`, { dispatcher });
      expect(answer.statusCode).toBe(200);
      expect(await answer.body.json()).toMatchObject({ id: 'payment-1', status: 'PAID' });
      expect(emulator.counters).toMatchObject({ staticApiCalls: 1, tokenRequests: 0 });
    } finally {
      await dispatcher.close();
    }
  });
});

describe('PortOne merchants in a registry', () => {
  it('should serve token and static merchants side by side', async () => {
    const registry = createMerchantRegistry({
      providers: { portone: createPortOneProvider },
      merchants: { tokens: { provider: 'portone', ...settings('token') }, fixed: { provider: 'portone', ...settings('static') } },
    });
    expect((await registry.fetch('tokens')('/payments/a')).status).toBe(200);
    expect((await registry.fetch('fixed')('/payments/b')).status).toBe(200);
    expect(emulator.counters).toMatchObject({ loginRequests: 1, staticApiCalls: 1 });
  });

  it('should report every bad merchant at start, by path and never by value', () => {
    let error: unknown;
    try {
      createMerchantRegistry({
        providers: { portone: createPortOneProvider },
        merchants: { a: { provider: 'portone', apiSecret: 'xcanary secret', mode: 'Static' }, b: { provider: 'portone' } },
      });
    } catch (caught) {
      error = caught;
    }
    expect(isConfigurationError(error)).toBe(true);
    expect((error as { issues: Array<{ path: string }> }).issues.map((issue) => issue.path)).toEqual([
      'merchants.a.apiSecret',
      'merchants.a.mode',
      'merchants.b.apiSecret',
    ]);
    expect(JSON.stringify(error)).not.toContain('xcanary');
  });
});
