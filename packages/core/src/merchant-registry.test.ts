import { inspect } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  type ConfigurationError,
  type ConfigurationIssue,
  cacheKeyOf,
  createMerchantRegistry,
  isConfigurationError,
  isTokenRequestError,
  isUnknownMerchantError,
  type MerchantTokenEvent,
  type ProviderFactory,
} from './index.js';
import { startTestTokenServer, type TestTokenServer, testProvider } from './test-token-server.js';

let server: TestTokenServer;
let created: number;

beforeEach(async () => {
  server = await startTestTokenServer();
  created = 0;
});
afterEach(async () => {
  await server.close();
});

/** A gateway factory for the test server: `apiKey`/`apiSecret` settings, validated like a real provider. */
function testFactory(): ProviderFactory {
  const factory: ProviderFactory = (settings: { apiKey: string; apiSecret: string }) => {
    created += 1;
    return testProvider(server, { cacheKey: cacheKeyOf('test', [server.url, settings.apiKey, settings.apiSecret]) });
  };
  factory.validateSettings = (settings) => {
    const issues: ConfigurationIssue[] = [];
    const record = settings as Record<string, unknown>;
    for (const name of ['apiKey', 'apiSecret']) {
      if (typeof record[name] !== 'string' || record[name] === '') issues.push({ path: name, message: 'required' });
    }
    return issues;
  };
  return factory;
}

describe('createMerchantRegistry', () => {
  it('should give each merchant a bearer fetch on its own gateway', async () => {
    const registry = createMerchantRegistry({
      providers: { test: testFactory() },
      merchants: { 'shop-a': { provider: 'test', apiKey: 'a', apiSecret: 'secret-a' } },
    });
    const response = await registry.fetch('shop-a')('/api/payments/1');
    expect(response.status).toBe(200);
    expect(server.apiCalls[0]?.headers.authorization).toMatch(/^Bearer token-/);
    expect(registry.merchants()).toEqual(['shop-a']);
    expect(registry.has('shop-a')).toBe(true);
  });

  it('should report every problem of every merchant at once, with paths and without secret values', () => {
    let error: unknown;
    try {
      createMerchantRegistry({
        providers: { test: testFactory() },
        merchants: {
          'shop-kr': { provider: 'test', apiKey: 'k', apiSecret: '' },
          'shop-no': { provider: 'vipps', clientSecret: 'very-secret-value' },
          'shop-x': { provider: 'test', apiSecret: 'another-secret' },
        },
      });
    } catch (caught) {
      error = caught;
    }
    expect(isConfigurationError(error)).toBe(true);
    const issues = (error as ConfigurationError).issues.map((issue) => `${issue.path}: ${issue.message}`);
    expect(issues).toEqual([
      'merchants.shop-kr.apiSecret: required',
      'merchants.shop-no.provider: unknown provider "vipps"; known: test',
      'merchants.shop-x.apiKey: required',
    ]);
    const text = `${(error as Error).message} ${JSON.stringify(error)} ${inspect(error)}`;
    expect(text).not.toContain('very-secret-value');
    expect(text).not.toContain('another-secret');
  });

  it('should throw a typed error naming an unknown merchant', () => {
    const registry = createMerchantRegistry({ providers: { test: testFactory() }, merchants: {} });
    expect(() => registry.fetch('nobody')).toThrowError(/nobody/);
    try {
      registry.tokens('nobody');
    } catch (error) {
      expect(isUnknownMerchantError(error)).toBe(true);
    }
    expect.assertions(2);
  });

  it('should share one token between merchants with the same credentials and never across different ones', async () => {
    const registry = createMerchantRegistry({
      providers: { test: testFactory() },
      merchants: {
        a1: { provider: 'test', apiKey: 'a', apiSecret: 'secret-a' },
        a2: { provider: 'test', apiKey: 'a', apiSecret: 'secret-a' },
        b: { provider: 'test', apiKey: 'b', apiSecret: 'secret-b' },
      },
    });
    const results = await Promise.all(Array.from({ length: 300 }, (_, index) => registry.tokens(['a1', 'a2', 'b'][index % 3]!).getToken()));
    const byMerchant = (offset: number): Set<string> =>
      new Set(results.filter((_, index) => index % 3 === offset).map((token) => token.accessToken));
    expect(byMerchant(0).size).toBe(1);
    expect(byMerchant(0)).toEqual(byMerchant(1));
    expect(byMerchant(2).size).toBe(1);
    expect([...byMerchant(2)][0]).not.toBe([...byMerchant(0)][0]);
    expect(server.tokenRequests).toBe(2);
  });

  it('should create providers lazily, so a huge registry starts without creating any', () => {
    const merchants = Object.fromEntries(
      Array.from({ length: 100_000 }, (_, index) => [`m${index}`, { provider: 'test', apiKey: `k${index}`, apiSecret: `s${index}` }]),
    );
    const registry = createMerchantRegistry({ providers: { test: testFactory() }, merchants });
    expect(created).toBe(0);
    registry.tokens('m42');
    registry.tokens('m42');
    expect(created).toBe(1);
    expect(registry.merchants()).toHaveLength(100_000);
  });

  it('should name the merchant in token errors without changing the shared error', async () => {
    server.mode = 500;
    const registry = createMerchantRegistry({
      providers: { test: testFactory() },
      merchants: { 'shop-kr': { provider: 'test', apiKey: 'a', apiSecret: 'secret-a' } },
    });
    const error = await registry
      .fetch('shop-kr')('/api/payments/1')
      .catch((caught: unknown) => caught);
    expect(isTokenRequestError(error)).toBe(true);
    expect((error as Error).message).toMatch(/^\[test, merchant shop-kr\] /);
    expect((error as { merchant?: string }).merchant).toBe('shop-kr');
    expect(server.apiCalls).toHaveLength(0);
  });

  it('should name every merchant sharing a failing credential in the error of its token cache', async () => {
    server.mode = 401;
    const registry = createMerchantRegistry({
      providers: { test: testFactory() },
      merchants: {
        a1: { provider: 'test', apiKey: 'a', apiSecret: 'secret-a' },
        a2: { provider: 'test', apiKey: 'a', apiSecret: 'secret-a' },
      },
    });
    expect(registry.tokens('a1')).toBe(registry.tokens('a2'));
    const first = await registry
      .tokens('a1')
      .getToken()
      .catch((caught: unknown) => caught);
    expect((first as Error).message).toMatch(/^\[test, merchants a1, a2\] /);
    // The cool-down hands out the very same error, without a new request.
    const again = await registry
      .tokens('a2')
      .getToken()
      .catch((caught: unknown) => caught);
    expect(again).toBe(first);
    expect(server.tokenRequests).toBe(1);
  });

  it('should report events with the merchants that use the cache', async () => {
    const events: MerchantTokenEvent[] = [];
    const registry = createMerchantRegistry({
      providers: { test: testFactory() },
      merchants: { 'shop-a': { provider: 'test', apiKey: 'a', apiSecret: 'secret-a' } },
      onEvent: (event) => events.push(event),
    });
    await registry.tokens('shop-a').getToken();
    expect(events.map((event) => event.type)).toEqual(['token-requested', 'token-refreshed']);
    expect(events[0]?.merchants).toEqual(['shop-a']);
  });
});
