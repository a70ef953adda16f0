/**
 * Secret canaries for the engine: the token cache, bearer fetch, undici interceptor, memory store and merchant
 * registry, against core's test token server, whose tokens hold the marker `xcanary`, with a provider whose API
 * header (a subscription key) is a canary too. Every error (message, stack, cause chain, `util.inspect` with hidden
 * fields, `JSON.stringify`), event and public object is scanned; no canary may appear.
 */

import { startTestTokenServer, type TestTokenServer, testProvider } from '@x/test-support/token-server';
import { Agent, request } from 'undici';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  createAuthFetch,
  createMemoryTokenStore,
  createMerchantRegistry,
  createTokenCache,
  type ProviderFactory,
  type TokenCache,
  type TokenCacheOptions,
  type TokenProvider,
  type TokenStore,
} from './index.js';
import { cacheKeyOf } from './provider/index.js';
import { CanaryScanner, createCanary, createScannedTokenCache } from './testing/index.js';
import { createAuthInterceptor } from './undici/index.js';

const scanner = new CanaryScanner();
let server: TestTokenServer;
const apiKey = createCanary('key-');

const policy: TokenCacheOptions['policy'] = { requestTimeoutMs: 300, retryBaseDelayMs: 1, retryMaxDelayMs: 5, failureCooldownMs: 50 };

beforeEach(async () => {
  server = await startTestTokenServer();
});

afterEach(async () => {
  await server.close();
  expect(scanner.takeLeaks()).toEqual([]);
});

afterAll(() => {
  scanner.report('core-canary');
});

/**
 * The test provider with a canary API header, as Vipps sends its subscription key. Like the real providers it keeps
 * the header off its own properties (a getter on its prototype), so what is scanned is what the engine adds.
 */
function provider(headers: Record<string, string> = { 'ocp-apim-subscription-key': apiKey }): TokenProvider {
  const withHeaders = Object.create({
    get apiHeaders() {
      return headers;
    },
  }) as TokenProvider;
  return Object.assign(withHeaders, testProvider(server));
}

function scannedCache(label: string, options: TokenCacheOptions = {}): TokenCache {
  return createScannedTokenCache(scanner, label, provider(), { policy, ...options });
}

describe('core secret canaries', () => {
  it.each([500, 401, 403, 429, 'hang', 'reset'] as const)('should leak nothing when the token endpoint answers %s', async (mode) => {
    server.mode = mode;
    const cache = scannedCache(`mode ${mode}`);
    await scanner.scanSettled(`mode ${mode}: getToken`, cache.getToken(), { isToken: true });
    await scanner.scanSettled(`mode ${mode}: again`, cache.getToken(), { isToken: true });
    const authFetch = createAuthFetch(cache);
    scanner.scan(`mode ${mode}: authFetch`, authFetch);
    await scanner.scanSettled(`mode ${mode}: call`, authFetch('/api/payments/1'));
  });

  it('should leak nothing through refreshes, unchanged answers, invalidation and 401 retries', async () => {
    const cache = scannedCache('lifecycle');
    const authFetch = createAuthFetch(cache);
    const first = (await authFetch('/api/payments/1')) as Response;
    await scanner.scanSettled('lifecycle: first body', first.text(), { isGatewayData: true });
    server.mode = 'same';
    await scanner.scanSettled('lifecycle: same', cache.getToken({ forceRefresh: true }), { isToken: true });
    server.mode = 'extend';
    await scanner.scanSettled('lifecycle: extend', cache.getToken({ forceRefresh: true }), { isToken: true });
    server.mode = 'ok';
    server.validTokens.clear();
    const retried = (await scanner.scanSettled(
      'lifecycle: after revoke',
      authFetch('/api/payments/2', { method: 'POST', body: 'x' }),
    )) as Response;
    expect(retried.status).toBe(200);
    await scanner.scanSettled('lifecycle: body', retried.text(), { isGatewayData: true });
    await scanner.scanSettled('lifecycle: foreign', authFetch('https://evil.example/api/payments/1'));
    await scanner.scanSettled('lifecycle: bad url', authFetch('http://[::1'));
    const token = await cache.getToken();
    await scanner.scanSettled('lifecycle: invalidate', cache.invalidate(token.accessToken));
  });

  it('should leak nothing when callers abort or the request times out', async () => {
    server.mode = 'hang';
    const cache = scannedCache('abort');
    const controller = new AbortController();
    const waiting = scanner.scanSettled('abort: getToken', cache.getToken({ signal: controller.signal }), { isToken: true });
    controller.abort(new Error('caller gave up'));
    await waiting;
    await scanner.scanSettled('abort: timeout', cache.getToken(), { isToken: true });
    await scanner.scanSettled('abort: fetch', createAuthFetch(cache)('/api/payments/1', { signal: AbortSignal.timeout(30) }));
  });

  it('should leak nothing when the store fails or holds garbage', async () => {
    const failing = (operation: string) => () => Promise.reject(new Error(`store ${operation} failed`));
    const store: TokenStore = { get: failing('get'), set: failing('set'), delete: failing('delete'), lock: failing('lock') };
    const cache = scannedCache('store', { store });
    const token = await cache.getToken();
    await scanner.scanSettled('store: invalidate', cache.invalidate(token.accessToken));
    scanner.scan('store: store', store);

    const memory = createMemoryTokenStore();
    const healthy = scannedCache('memory', { store: memory });
    await healthy.getToken();
    scanner.scan('memory: store', memory);
    await memory.set(provider().cacheKey, '{"v":1,"accessToken":"xcanary-garbage"', 60_000);
    await scanner.scanSettled('memory: garbage', scannedCache('garbage', { store: memory }).getToken(), { isToken: true });
  });

  it('should leak nothing from a provider that throws something other than an AuthError', async () => {
    const throwing = testProvider(server, {
      cacheKey: 'test:throwing',
      requestToken: () => Promise.reject(new TypeError('the provider broke')),
    });
    const cache = createTokenCache(throwing, { policy, onEvent: (event) => scanner.scan('throwing: event', event) });
    await scanner.scanSettled('throwing: getToken', cache.getToken(), { isToken: true });
  });

  it('should leak nothing from a registry, its errors and events', async () => {
    const factory: ProviderFactory = (settings: { apiSecret: string }) =>
      Object.assign(provider({ 'x-key': settings.apiSecret }), { cacheKey: cacheKeyOf('test', [server.url, settings.apiSecret]) });
    factory.validateSettings = (settings) =>
      typeof (settings as { apiSecret?: unknown }).apiSecret === 'string' ? [] : [{ path: 'apiSecret', message: 'required' }];
    const registry = createMerchantRegistry({
      providers: { test: factory },
      merchants: { a: { provider: 'test', apiSecret: createCanary() }, b: { provider: 'test', apiSecret: createCanary() } },
      policy,
      onEvent: (event) => scanner.scan(`registry: event ${event.type}`, event),
    });
    await scanner.scanSettled('registry: a', registry.fetch('a')('/api/payments/1'));
    server.mode = 500;
    await scanner.scanSettled('registry: b', registry.fetch('b')('/api/payments/1'));
    await scanner.scanSettled(
      'registry: unknown',
      Promise.resolve().then(() => registry.fetch('nobody')),
    );
    scanner.scan('registry', registry);
    scanner.scan('registry: provider', registry.provider('a'));
    await scanner.scanSettled(
      'registry: bad configuration',
      Promise.resolve().then(() =>
        createMerchantRegistry({
          providers: { test: factory },
          merchants: { c: { provider: 'test', apiSecret: 42, other: createCanary() } },
        }),
      ),
    );
  });

  it('should leak nothing through the undici interceptor', async () => {
    const cache = scannedCache('interceptor');
    const interceptor = createAuthInterceptor(cache);
    scanner.scan('interceptor', interceptor);
    const dispatcher = new Agent().compose(interceptor);
    try {
      const answer = await request(new URL('/api/payments/1', server.url), { dispatcher });
      await scanner.scanSettled('interceptor: body', answer.body.text(), { isGatewayData: true });
      await scanner.scanSettled('interceptor: foreign', request('https://evil.example/api/payments/1', { dispatcher }));
      server.validTokens.clear();
      server.mode = 500;
      const refused = request(new URL('/api/payments/2', server.url), { dispatcher, method: 'POST', body: 'x' });
      await scanner.scanSettled(
        'interceptor: revoked',
        refused.then((reply) => reply.body.text()),
        { isGatewayData: true },
      );
    } finally {
      await dispatcher.close();
    }
  });

  it('should have scanned every item', () => {
    expect(scanner.count).toBeGreaterThan(60);
    expect(scanner.leaks).toEqual([]);
  });
});
