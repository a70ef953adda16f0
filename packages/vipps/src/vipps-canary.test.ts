/**
 * Secret canaries: every failure path of the Vipps provider (both token endpoints), cache, bearer fetch, undici
 * interceptor and registry, driven against the emulator, whose client secret, subscription key and tokens all hold
 * the marker `xcanary`. Everything a caller can observe — each error (message, stack, cause chain, `util.inspect`
 * with hidden fields, `JSON.stringify`), each event, each public object — is scanned, and no canary may appear.
 */
import {
  createAuthFetch,
  createMemoryTokenStore,
  createMerchantRegistry,
  type TokenCache,
  type TokenCacheOptions,
  type TokenStore,
} from '@x/core';
import { loadMerchantConfig } from '@x/core/node';
import { CanaryScanner, createCanary, createScannedTokenCache } from '@x/core/testing';
import { createAuthInterceptor } from '@x/core/undici';
import { Agent, request } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createVippsProvider, type VippsProviderSettings } from './index.js';
import { createVippsEmulator, type VippsEmulator, type VippsFault, vippsEmulatorDefaultMerchant } from './testing/index.js';

const scanner = new CanaryScanner();
let emulator: VippsEmulator;
const { clientId, clientSecret, subscriptionKey } = vippsEmulatorDefaultMerchant;

/** Fast enough to run every path in milliseconds; a stalled answer times out in 300 ms. */
const policy: TokenCacheOptions['policy'] = { requestTimeoutMs: 300, retryBaseDelayMs: 1, retryMaxDelayMs: 5, failureCooldownMs: 50 };

beforeAll(async () => {
  emulator = await createVippsEmulator();
  expect([clientSecret, subscriptionKey].every((secret) => secret.includes('xcanary'))).toBe(true);
});

afterAll(async () => {
  await emulator.close();
  scanner.report('vipps-canary');
});

afterEach(() => {
  emulator.clearFaults();
  emulator.revoke();
  // Each test shows only its own leaks, masked.
  expect(scanner.takeLeaks()).toEqual([]);
});

function settings(overrides: Partial<VippsProviderSettings> = {}): VippsProviderSettings {
  return { clientId, clientSecret, subscriptionKey, merchantSerialNumber: '123456', baseUrl: emulator.url, ...overrides };
}

/** A cache whose every event is scanned. */
function scannedCache(label: string, options: TokenCacheOptions & { settings?: Partial<VippsProviderSettings> } = {}): TokenCache {
  const { settings: overrides, ...cacheOptions } = options;
  return createScannedTokenCache(scanner, label, createVippsProvider(settings(overrides)), { policy, ...cacheOptions });
}

/** `SECRET` and `KEY` in a body stand for the real client secret and subscription key: a gateway echoing them. */
const echo = (text: string): string => text.replaceAll('SECRET', clientSecret).replaceAll('KEY', subscriptionKey);

const tokenFaults: Array<[name: string, fault: VippsFault]> = [
  ['status 400', { kind: 'status', status: 400 }],
  ['status 401', { kind: 'status', status: 401 }],
  ['status 403', { kind: 'status', status: 403 }],
  ['status 429', { kind: 'status', status: 429 }],
  ['status 500', { kind: 'status' }],
  ['status 503', { kind: 'status', status: 503 }],
  ['slow', { kind: 'slow', delayMs: 1_000 }],
  ['malformed', { kind: 'malformed' }],
  ['html', { kind: 'html' }],
  ['truncated', { kind: 'truncated' }],
  ['drop', { kind: 'drop' }],
  ['reset', { kind: 'reset' }],
  ['stall', { kind: 'stall' }],
  ['an error echoing the secret', { kind: 'body', status: 401, body: { error: 'invalid_client', error_description: 'SECRET' } }],
  ['an APIM error echoing the key', { kind: 'body', status: 401, body: { statusCode: 401, message: 'Access denied for key KEY' } }],
  ['a problem echoing both', { kind: 'body', status: 400, body: { title: 'SECRET', detail: 'KEY and SECRET' } }],
  ['a token with a line break', { kind: 'body', body: { token_type: 'Bearer', expires_in: '3600', access_token: 'xcanary\r\nX-Evil: 1' } }],
  ['a token with a space', { kind: 'body', body: { token_type: 'Bearer', expires_in: '3600', access_token: 'xcanary ab' } }],
  ['a token of another type', { kind: 'body', body: { token_type: 'MAC', expires_in: '3600', access_token: 'xcanary-mac' } }],
  ['a token with a negative lifetime', { kind: 'body', body: { token_type: 'Bearer', expires_in: '-1', access_token: 'xcanary-old' } }],
  ['a token without a lifetime', { kind: 'body', body: { token_type: 'Bearer', access_token: 'xcanary-forever' } }],
  ['a redirect', { kind: 'raw', status: 302, headers: { location: 'https://evil.example/steal' }, body: '' }],
  ['a proxy page quoting the token', { kind: 'raw', status: 502, contentType: 'text/html', body: '<html>xcanary-in-a-proxy-page</html>' }],
  ['response headers echoing the credentials', { kind: 'raw', status: 401, headers: { 'x-echo-secret': 'SECRET', 'x-echo-key': 'KEY' } }],
  [
    'a status text and content type echoing the credentials',
    { kind: 'raw', status: 401, statusText: 'Denied SECRET KEY', contentType: 'text/plain; echo="SECRET KEY"', body: 'no' },
  ],
  [
    'a 200 whose content type echoes the credentials',
    { kind: 'raw', status: 200, contentType: 'text/html; echo="SECRET KEY"', body: '<p>' },
  ],
  [
    'a JSON echo of the headers',
    { kind: 'raw', status: 500, body: '{"headers":{"client_secret":"SECRET","Ocp-Apim-Subscription-Key":"KEY"}}' },
  ],
];

function withEcho(fault: VippsFault): VippsFault {
  if (fault.kind === 'body') return { ...fault, body: JSON.parse(echo(JSON.stringify(fault.body))) };
  if (fault.kind === 'raw') {
    const headers = Object.fromEntries(Object.entries(fault.headers ?? {}).map(([name, value]) => [name, echo(value)]));
    const echoed = <T>(text: T): T => (typeof text === 'string' ? (echo(text) as T) : text);
    return { ...fault, headers, body: echoed(fault.body), statusText: echoed(fault.statusText), contentType: echoed(fault.contentType) };
  }
  return fault;
}

describe('Vipps secret canaries', () => {
  describe.each(['accesstoken', 'partner'] as const)('on the %s endpoint', (tokenEndpoint) => {
    it.each(tokenFaults)('should leak nothing when the token endpoint answers with %s', async (name, fault) => {
      emulator.fault({ ...withEcho(fault), count: 3 });
      const label = `${tokenEndpoint} ${name}`;
      const cache = scannedCache(label, { settings: { tokenEndpoint } });
      await scanner.scanSettled(`${label}: getToken`, cache.getToken(), { isToken: true });
      await scanner.scanSettled(`${label}: forced getToken`, cache.getToken({ forceRefresh: true }), { isToken: true });
      const authFetch = createAuthFetch(cache);
      scanner.scan(`${label}: authFetch`, authFetch);
      const response = await scanner.scanSettled(`${label}: call`, authFetch('/epayment/v1/payments/order-1'));
      if (response instanceof Response) await scanner.scanSettled(`${label}: body`, response.text(), { isGatewayData: true });
    });
  });

  it.each(tokenFaults.filter(([, fault]) => fault.kind !== 'body'))(
    'should leak nothing when an API call fails with %s',
    async (name, fault) => {
      const cache = scannedCache(`api ${name}`);
      const authFetch = createAuthFetch(cache);
      await (await authFetch('/epayment/v1/payments/order-0')).arrayBuffer();
      emulator.fault({ ...withEcho(fault), target: 'payments', count: 2 });
      const response = await scanner.scanSettled(
        `api ${name}: call`,
        authFetch('/epayment/v1/payments/order-1', { signal: AbortSignal.timeout(500) }),
      );
      if (response instanceof Response) await scanner.scanSettled(`api ${name}: body`, response.text(), { isGatewayData: true });
    },
  );

  it.each([
    ['client secret', { clientSecret: createCanary('wrong-') }],
    ['subscription key', { subscriptionKey: createCanary('wrong-') }],
    ['client id', { clientId: 'not-registered' }],
    ['client secret on the partner endpoint', { clientSecret: createCanary('wrong-'), tokenEndpoint: 'partner' as const }],
  ])('should leak nothing when the %s is wrong, also from the cool-down', async (name, overrides) => {
    const cache = scannedCache(`wrong ${name}`, { settings: overrides });
    await scanner.scanSettled(`wrong ${name}: first`, cache.getToken(), { isToken: true });
    await scanner.scanSettled(`wrong ${name}: cool-down`, cache.getToken(), { isToken: true });
    await scanner.scanSettled(`wrong ${name}: fetch`, createAuthFetch(cache)('/epayment/v1/payments/order-1'));
  });

  it('should leak nothing when a token is revoked and replaced after a 401', async () => {
    const cache = scannedCache('revoked');
    const authFetch = createAuthFetch(cache);
    await (await authFetch('/epayment/v1/payments/order-1')).arrayBuffer();
    emulator.revoke();
    const response = (await scanner.scanSettled('revoked: call', authFetch('/epayment/v1/payments/order-2'))) as Response;
    expect(response.status).toBe(200);
    await scanner.scanSettled('revoked: body', response.text(), { isGatewayData: true });
  });

  it('should leak nothing when callers abort or time out', async () => {
    emulator.fault({ kind: 'stall', count: 2 });
    const cache = scannedCache('abort');
    const controller = new AbortController();
    const waiting = scanner.scanSettled('abort: getToken', cache.getToken({ signal: controller.signal }), { isToken: true });
    controller.abort(new Error('caller gave up'));
    await waiting;
    await scanner.scanSettled('abort: fetch', createAuthFetch(cache)('/epayment/v1/payments/order-1', { signal: AbortSignal.timeout(50) }));
  });

  it('should leak nothing when the store fails', async () => {
    const failing = (operation: string) => () => Promise.reject(new Error(`store ${operation} failed`));
    const store: TokenStore = { get: failing('get'), set: failing('set'), delete: failing('delete'), lock: failing('lock') };
    const cache = scannedCache('store', { store });
    const token = await cache.getToken();
    await scanner.scanSettled('store: invalidate', cache.invalidate(token.accessToken));
    await scanner.scanSettled('store: again', cache.getToken(), { isToken: true });
    const memory = createMemoryTokenStore();
    await scannedCache('memory store', { store: memory }).getToken();
    scanner.scan('memory store: store', memory);
  });

  it('should leak nothing from a bad configuration', async () => {
    const bad: Array<Partial<Record<keyof VippsProviderSettings, unknown>>> = [
      { clientSecret: `${clientSecret}\r\nX-Evil: 1` },
      { subscriptionKey: `${subscriptionKey}\n` },
      { clientSecret: `${clientSecret}€` },
      { clientSecret: clientSecret.repeat(100) },
      { subscriptionKey: { key: subscriptionKey } },
      { baseUrl: `https://user:${clientSecret}@apitest.vipps.no` },
      { baseUrl: `https://apitest.vipps.no/?key=${subscriptionKey}` },
      { baseUrl: `http://${subscriptionKey}.example` },
      { baseUrl: `file:///${clientSecret}` },
      { merchantSerialNumber: clientSecret, systemName: subscriptionKey },
    ];
    for (const [index, overrides] of bad.entries()) {
      await scanner.scanSettled(
        `configuration ${index}`,
        Promise.resolve().then(() => createVippsProvider(settings(overrides as never))),
      );
    }
    const registry = loadMerchantConfig(
      { merchants: { oslo: { provider: 'vipps', clientId, clientSecret: { $env: 'SECRET' }, subscriptionKey: { $env: 'KEY' } } } },
      { env: { SECRET: `${clientSecret}\n`, KEY: subscriptionKey } },
    ).then(({ merchants }) => createMerchantRegistry({ providers: { vipps: createVippsProvider }, merchants }));
    await scanner.scanSettled('configuration: registry', registry);
  });

  it('should leak nothing from a registry of merchants, failing or not', async () => {
    const registry = createMerchantRegistry({
      providers: { vipps: createVippsProvider },
      merchants: {
        good: { provider: 'vipps', ...settings() },
        wrong: { provider: 'vipps', ...settings({ clientSecret: createCanary() }) },
      },
      policy,
      onEvent: (event) => scanner.scan(`registry: event ${event.type}`, event),
    });
    await (await registry.fetch('good')('/epayment/v1/payments/order-1')).arrayBuffer();
    await scanner.scanSettled('registry: wrong', registry.fetch('wrong')('/epayment/v1/payments/order-1'));
    await scanner.scanSettled('registry: foreign origin', registry.fetch('good')('https://evil.example/epayment/v1/payments/order-1'));
    scanner.scan('registry', registry);
    scanner.scan('registry: provider', registry.provider('good'));
    scanner.scan('registry: cache', registry.tokens('good'));
  });

  it('should leak nothing through the undici interceptor', async () => {
    const cache = scannedCache('interceptor');
    const interceptor = createAuthInterceptor(cache);
    scanner.scan('interceptor', interceptor);
    const dispatcher = new Agent().compose(interceptor);
    try {
      const answer = await request(new URL('/epayment/v1/payments/order-1', emulator.url), { dispatcher });
      await scanner.scanSettled('interceptor: body', answer.body.text(), { isGatewayData: true });
      await scanner.scanSettled('interceptor: foreign', request('https://evil.example/epayment/v1/payments/order-1', { dispatcher }));
      emulator.revoke();
      emulator.fault({ kind: 'status', status: 500, count: 10 });
      await scanner.scanSettled(
        'interceptor: revoked',
        request(new URL('/epayment/v1/payments/order-2', emulator.url), { dispatcher }).then((reply) => reply.body.text()),
        { isGatewayData: true },
      );
    } finally {
      await dispatcher.close();
    }
  });

  it('should leak nothing from the emulator handle itself, after it has seen requests', async () => {
    await createAuthFetch(scannedCache('emulator'))('/epayment/v1/payments/order-1').then((response) => response.arrayBuffer());
    expect(emulator.seen('accesstoken').length).toBeGreaterThan(0);
    scanner.scan('emulator', emulator);
    expect(JSON.parse(JSON.stringify(emulator))).toEqual({ url: emulator.url, counters: emulator.counters });
  });

  it('should have scanned every item', () => {
    // The number is the report: how many observed values went through the scanner above.
    expect(scanner.count).toBeGreaterThan(300);
    expect(scanner.leaks).toEqual([]);
  });
});
