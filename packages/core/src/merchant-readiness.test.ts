import { advanceFakeTime as advance, createFakeTimersClock, type FakeTimersClock, untilIo as until } from '@x/test-support/clock';
import { startTestTokenServer, type TestTokenServer, testProvider } from '@x/test-support/token-server';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  checkReadiness,
  createMerchantRegistry,
  isConfigurationError,
  type MerchantRegistry,
  type MerchantSettings,
  type MerchantTokenEvent,
  type ProviderFactory,
} from './index.js';
import { cacheKeyOf } from './provider/index.js';

const hour = 3_600_000;
const minute = 60_000;
const start = Date.UTC(2025, 0, 1);

let server: TestTokenServer;
let clock: FakeTimersClock;
let events: MerchantTokenEvent[];
let registry: MerchantRegistry;

const testFactory: ProviderFactory = (settings: { apiKey: string; apiSecret: string }) =>
  testProvider(server, { cacheKey: cacheKeyOf('test', [server.url, settings.apiKey, settings.apiSecret]) });
const merchant = (apiKey: string): MerchantSettings => ({ provider: 'test', apiKey, apiSecret: `secret-${apiKey}-xcanary` });

beforeEach(async () => {
  vi.useFakeTimers({ now: start, toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });
  clock = createFakeTimersClock();
  server = await startTestTokenServer({ now: () => clock.now() });
  events = [];
  registry = createMerchantRegistry({
    providers: { test: testFactory },
    merchants: { 'shop-a': merchant('one'), 'shop-b': merchant('two'), 'shop-c': merchant('three') },
    clock,
    onEvent: (event) => events.push(event),
  });
});

afterEach(async () => {
  await registry.close();
  await server.close();
  vi.useRealTimers();
});

describe('checkReadiness', () => {
  it('should be ready (200) when every chosen merchant has a token to hand out, and say so for each', async () => {
    await registry.warm(['shop-a', 'shop-b']);
    const answer = checkReadiness(registry, { merchants: ['shop-a', 'shop-b'] });
    expect(answer).toMatchObject({ ready: true, status: 200 });
    expect(answer.body).toEqual({
      ready: true,
      merchants: [
        expect.objectContaining({ merchants: ['shop-a'], state: 'fresh', ready: true, expiresInMs: hour }),
        expect.objectContaining({ merchants: ['shop-b'], state: 'fresh', ready: true }),
      ],
    });
  });

  it('should be unready (503) while a chosen merchant has no token: cold, failing, cooling-down or unknown', async () => {
    await registry.warm(['shop-a']);
    expect(checkReadiness(registry, { merchants: ['shop-a', 'shop-b'] })).toMatchObject({
      ready: false,
      status: 503,
      body: {
        ready: false,
        merchants: [
          { state: 'fresh', ready: true },
          { state: 'cold', ready: false },
        ],
      },
    });

    server.mode = 503;
    await registry.warm(['shop-b']);
    server.mode = 401;
    await registry.warm(['shop-c']);
    const answer = checkReadiness(registry, { merchants: ['shop-a', 'shop-b', 'shop-c', 'shop-z'] });
    expect(answer.status).toBe(503);
    expect(answer.body.merchants.map(({ state, ready, lastError }) => ({ state, ready, code: lastError?.code }))).toEqual([
      { state: 'fresh', ready: true, code: undefined },
      { state: 'failing', ready: false, code: 'X_TOKEN_REQUEST_FAILED' },
      { state: 'cooling-down', ready: false, code: 'X_TOKEN_REQUEST_FAILED' },
      { state: 'unknown', ready: false, code: undefined },
    ]);
  });

  it('should stay ready while a token is served stale, and turn unready once it is too close to expiry', async () => {
    await registry.warm(['shop-a']);
    await advance(hour - 3 * minute);
    server.mode = 503;
    await registry.fetch('shop-a')('/api/one');
    await until(() => events.some((event) => event.type === 'token-served-stale'), 'the failed refresh');
    expect(checkReadiness(registry, { merchants: ['shop-a'] })).toMatchObject({
      ready: true,
      status: 200,
      body: { merchants: [{ state: 'serving-stale', ready: true, expiresInMs: 3 * minute }] },
    });
    expect(checkReadiness(registry, { merchants: ['shop-a'], minValidityMs: 3 * minute + 1 })).toMatchObject({
      ready: false,
      status: 503,
      body: { merchants: [{ state: 'serving-stale', ready: false }] },
    });
  });

  it('should be unready once the registry is closed', async () => {
    await registry.warm(['shop-a']);
    await registry.close();
    expect(checkReadiness(registry, { merchants: ['shop-a'] })).toMatchObject({ ready: false, status: 503 });
  });

  it('should be ready with no merchant chosen, and refuse options that cannot work with every problem at once', () => {
    expect(checkReadiness(registry, { merchants: [] })).toEqual({ ready: true, status: 200, body: { ready: true, merchants: [] } });
    let error: unknown;
    try {
      checkReadiness(registry, { merchants: 'shop-a' as unknown as string[], minValidityMs: -1 });
    } catch (caught) {
      error = caught;
    }
    expect(isConfigurationError(error)).toBe(true);
    expect(error).toMatchObject({ issues: [{ path: 'merchants' }, { path: 'minValidityMs' }] });
  });

  it('should answer with a body that holds no token and no secret', async () => {
    await registry.warm(['shop-a']);
    server.mode = 401;
    await registry.warm(['shop-b']);
    const text = JSON.stringify(checkReadiness(registry, { merchants: ['shop-a', 'shop-b'] }));
    expect(text).not.toContain('xcanary');
  });
});
