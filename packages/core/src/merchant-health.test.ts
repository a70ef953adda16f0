import { advanceFakeTime as advance, createFakeTimersClock, type FakeTimersClock, untilIo as until } from '@x/test-support/clock';
import { startTestTokenServer, type TestTokenServer, testProvider } from '@x/test-support/token-server';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  createMerchantRegistry,
  type MerchantRegistry,
  type MerchantRegistryOptions,
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

/** A gateway factory for the test server: merchants with the same `apiKey` and `apiSecret` share one cache. */
const testFactory: ProviderFactory = (settings: { apiKey: string; apiSecret: string }) =>
  testProvider(server, { cacheKey: cacheKeyOf('test', [server.url, settings.apiKey, settings.apiSecret]) });

const merchant = (apiKey: string): MerchantSettings => ({ provider: 'test', apiKey, apiSecret: `secret-${apiKey}-xcanary` });

function registryOf(options: Partial<MerchantRegistryOptions> = {}): MerchantRegistry {
  return createMerchantRegistry({
    providers: { test: testFactory },
    merchants: { 'shop-a': merchant('one'), 'shop-b': merchant('one'), 'shop-c': merchant('two'), 'shop-d': merchant('three') },
    clock,
    onEvent: (event) => events.push(event),
    ...options,
  });
}

const served = (type: MerchantTokenEvent['type']): number => events.filter((event) => event.type === type).length;

describe('MerchantRegistry.health', () => {
  it('should list the held merchants by the cache they share, with its state, and leave the others out', async () => {
    const registry = registryOf();
    await registry.warm(['shop-a', 'shop-b', 'shop-c']);
    await advance(10 * minute);
    const fresh = {
      state: 'fresh',
      provider: 'test',
      expiresInMs: 50 * minute,
      requesting: false,
      retryInMs: undefined,
      lastError: undefined,
    };
    expect(registry.health()).toEqual([
      { merchants: ['shop-a', 'shop-b'], sharedBy: 2, ...fresh },
      { merchants: ['shop-c'], sharedBy: 1, ...fresh },
    ]);
  });

  it('should answer for the merchants asked, once each: held, configured and not held (cold), and unknown', async () => {
    const registry = registryOf();
    await registry.warm(['shop-a', 'shop-b']);
    expect(registry.health(['shop-b', 'shop-d', 'nobody', 'shop-b', 'shop-a'])).toEqual([
      { merchants: ['shop-b', 'shop-a'], provider: 'test', sharedBy: 2, state: 'fresh', expiresInMs: hour, requesting: false },
      { merchants: ['shop-d'], provider: 'test', sharedBy: 0, state: 'cold', expiresInMs: undefined, requesting: false },
      { merchants: ['nobody'], provider: undefined, sharedBy: 0, state: 'unknown', expiresInMs: undefined, requesting: false },
    ]);
  });

  it("should report each cache's failures: serving-stale, failing and cooling-down, with the error's code", async () => {
    const registry = registryOf({ merchants: { 'shop-a': merchant('one'), 'shop-c': merchant('two') } });
    await registry.warm(['shop-a']);
    await advance(hour - 2 * minute);
    server.mode = 503;
    const [stale, failing] = await Promise.all([registry.fetch('shop-a')('/api/one'), registry.warm(['shop-c'])]);
    expect(stale.status).toBe(200);
    await until(() => served('token-served-stale') === 1, 'the failed refresh');
    expect(failing[0]).toMatchObject({ ok: false });
    const http503 = { code: 'X_TOKEN_REQUEST_FAILED', reason: 'http', status: 503 };
    expect(registry.health()).toMatchObject([
      { merchants: ['shop-a'], state: 'serving-stale', expiresInMs: 2 * minute, retryInMs: expect.any(Number), lastError: http503 },
      { merchants: ['shop-c'], state: 'failing', expiresInMs: undefined, retryInMs: expect.any(Number), lastError: http503 },
    ]);

    server.mode = 401;
    await advance(2 * minute);
    await registry.warm(['shop-a']);
    expect(registry.health(['shop-a'])).toMatchObject([
      { state: 'cooling-down', retryInMs: 10_000, lastError: { code: 'X_TOKEN_REQUEST_FAILED', reason: 'rejected', status: 401 } },
    ]);
  });

  it('should neither hold a merchant nor move it in the least-recently-used order', async () => {
    const registry = registryOf({ maxActiveMerchants: 2 });
    await registry.warm(['shop-a']);
    await registry.warm(['shop-c']);
    expect(registry.health(['shop-a', 'shop-d']).map((entry) => entry.state)).toEqual(['fresh', 'cold']);
    await registry.warm(['shop-d']);
    // shop-a was the least recently used, health() or not: it went first.
    expect(registry.health().map((entry) => entry.merchants)).toEqual([['shop-c'], ['shop-d']]);
  });

  it('should tell merchants a resolver may still give (cold) from removed ones, and know none once closed', async () => {
    const registry = registryOf({ resolveMerchant: async (id) => (id.startsWith('db-') ? merchant(id) : undefined) });
    await registry.warm(['db-1']);
    await registry.remove('shop-d');
    expect(registry.health(['db-1', 'db-2', 'shop-d']).map(({ merchants, state, provider }) => ({ merchants, state, provider }))).toEqual([
      { merchants: ['db-1'], state: 'fresh', provider: 'test' },
      { merchants: ['db-2'], state: 'cold', provider: undefined },
      { merchants: ['shop-d'], state: 'unknown', provider: undefined },
    ]);
    await registry.close();
    expect(registry.health()).toEqual([]);
    expect(registry.health(['db-1']).map((entry) => entry.state)).toEqual(['unknown']);
  });

  it('should keep its answer bounded for 100,000 merchants on one credential: the merchants asked, and a count', async () => {
    const merchants: Record<string, MerchantSettings> = {};
    for (let index = 0; index < 100_000; index += 1) merchants[`m-${index}`] = merchant('platform');
    const registry = registryOf({ merchants });
    expect(registry.health()).toEqual([]);
    for (let index = 0; index < 1_000; index += 1) registry.tokens(`m-${index}`);
    await registry.warm(['m-0']);

    const asked = registry.health(['m-1', 'm-2', 'm-99999']);
    expect(asked.map(({ merchants, sharedBy, state }) => ({ merchants, sharedBy, state }))).toEqual([
      { merchants: ['m-1', 'm-2'], sharedBy: 1_000, state: 'fresh' },
      { merchants: ['m-99999'], sharedBy: 0, state: 'cold' },
    ]);
    expect(JSON.stringify(asked).length).toBeLessThan(1_000);
    const all = registry.health();
    expect(all).toHaveLength(1);
    expect(all[0]?.merchants).toHaveLength(1_000);
    expect(server.tokenRequests).toBe(1);
  });

  it('should never show a token or a secret', async () => {
    const registry = registryOf();
    await registry.warm(['shop-a', 'shop-b', 'shop-c']);
    server.mode = 401;
    await registry
      .fetch('shop-d')('/api/x')
      .catch(() => undefined);
    expect(registry.health(['shop-d'])[0]?.state).toBe('cooling-down');
    const text = JSON.stringify([registry.health(), registry.health(['shop-a', 'shop-d'])]);
    expect(text).not.toContain('xcanary');
    expect(text).not.toContain('token-');
  });
});
