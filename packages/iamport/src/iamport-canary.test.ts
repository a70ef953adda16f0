/**
 * Secret canaries: every failure path of the i'mport provider, cache, bearer fetch, undici interceptor and registry,
 * driven against the emulator, whose credentials and tokens all hold the marker `xcanary`. Everything a caller can
 * observe — each error (message, stack, cause chain, `util.inspect` with hidden fields, `JSON.stringify`), each
 * event, each public object — is scanned, and no canary may appear.
 */
import {
  createAuthFetch,
  createMemoryTokenStore,
  createMerchantRegistry,
  type TokenCache,
  type TokenCacheOptions,
  type TokenRequestError,
  type TokenStore,
} from '@x/core';
import { loadMerchantConfig } from '@x/core/node';
import { CanaryScanner, createCanary, createScannedTokenCache } from '@x/core/testing';
import { createAuthInterceptor } from '@x/core/undici';
import { Agent, request } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createIamportProvider, type IamportProvider } from './iamport-token-provider.js';
import { createIamportEmulator, type IamportEmulator, type IamportFault } from './testing/index.js';

const scanner = new CanaryScanner();
let emulator: IamportEmulator;
let secret: string;

/** Fast enough to run every path in milliseconds; a stalled answer times out in 300 ms. */
const policy: TokenCacheOptions['policy'] = { requestTimeoutMs: 300, retryBaseDelayMs: 1, retryMaxDelayMs: 5, failureCooldownMs: 50 };

beforeAll(async () => {
  emulator = await createIamportEmulator();
  secret = emulator.defaultMerchant.impSecret;
  expect(secret).toContain('xcanary');
});

afterAll(async () => {
  await emulator.close();
  scanner.report('iamport-canary');
});

afterEach(() => {
  emulator.clearFaults();
  emulator.revoke();
  // Each test shows only its own leaks, masked.
  expect(scanner.takeLeaks()).toEqual([]);
});

function provider(impSecret = secret, baseUrl = emulator.url): IamportProvider {
  return createIamportProvider({ impKey: emulator.defaultMerchant.impKey, impSecret, baseUrl });
}

/** A cache whose every event is scanned. */
function scannedCache(label: string, options: TokenCacheOptions & { impSecret?: string } = {}): TokenCache {
  const { impSecret, ...cacheOptions } = options;
  return createScannedTokenCache(scanner, label, provider(impSecret), { policy, ...cacheOptions });
}

const tokenFaults: IamportFault[] = [
  { kind: 'status' },
  { kind: 'body', status: 503, body: { code: -1, message: `temporarily down for ${'imp_secret'}`, response: null } },
  { kind: 'body', body: { code: -1, message: '인증에 실패했습니다.', response: null } },
  { kind: 'slow', delayMs: 1_000 },
  { kind: 'html' },
  { kind: 'malformed' },
  {
    kind: 'body',
    body: { code: 0, message: null, response: { access_token: createCanary('', 33), now: '1700000000', expired_at: '1700001800' } },
  },
  { kind: 'body', body: { code: 0, message: null, response: { now: 1_700_000_000, expired_at: 1_700_001_800 } } },
  { kind: 'truncated' },
  { kind: 'drop' },
  { kind: 'reset' },
  { kind: 'stall' },
  // A gateway (or a proxy) that echoes what it was sent, and tokens no bearer header may carry.
  { kind: 'raw', status: 401, body: JSON.stringify({ code: -1, message: 'echo', response: { imp_secret: 'SECRET' } }) },
  { kind: 'raw', status: 401, body: JSON.stringify({ code: -1, message: 'imp_secret SECRET is not registered', response: null }) },
  { kind: 'raw', status: 200, body: JSON.stringify({ code: 1, message: 'SECRET: 인증에 실패했습니다.', response: null }) },
  {
    kind: 'raw',
    status: 200,
    body: '{"code":0,"message":null,"response":{"access_token":"xcanary\\r\\nX-Evil: 1","now":1,"expired_at":99}}',
  },
  { kind: 'raw', status: 200, body: '{"code":0,"message":null,"response":{"access_token":"xcanary ab","now":1,"expired_at":99}}' },
  { kind: 'raw', status: 200, body: '{"code":0,"message":null,"response":{"access_token":"xcanary-ok","now":99,"expired_at":1}}' },
  { kind: 'raw', status: 500, contentType: 'text/html', body: '<html>xcanary-token-in-a-proxy-page</html>' },
  // A proxy that echoes the credential in its status line or content type.
  { kind: 'raw', status: 401, statusText: 'Denied SECRET', contentType: 'text/plain; echo=SECRET', body: 'no' },
  { kind: 'raw', status: 200, statusText: 'OK SECRET', contentType: 'text/html; echo="SECRET"', body: '<html></html>' },
];

/** A raw fault with the real secret put in for `SECRET`: the gateway echoing the credential back. */
function withSecret(fault: IamportFault): IamportFault {
  if (fault.kind !== 'raw') return fault;
  const echo = <T>(text: T): T => (typeof text === 'string' ? (text.replace('SECRET', secret) as T) : text);
  return { ...fault, body: echo(fault.body), statusText: echo(fault.statusText), contentType: echo(fault.contentType) };
}

describe("i'mport secret canaries", () => {
  it.each(
    tokenFaults.map(
      (fault) =>
        [
          `${fault.kind}${'body' in fault ? ` ${typeof fault.body === 'string' ? fault.body : JSON.stringify(fault.body)}` : ''}`,
          fault,
        ] as const,
    ),
  )('should leak nothing when the token endpoint fails with %s', async (name, fault) => {
    emulator.fault({ ...withSecret(fault), count: 3 });
    const cache = scannedCache(name);
    await scanner.scanSettled(`${name}: getToken`, cache.getToken(), { isToken: true });
    await scanner.scanSettled(`${name}: forced getToken`, cache.getToken({ forceRefresh: true }), { isToken: true });
    const authFetch = createAuthFetch(cache);
    scanner.scan(`${name}: authFetch`, authFetch);
    const response = await scanner.scanSettled(`${name}: authFetch call`, authFetch('/payments/imp_1'));
    if (response instanceof Response) await response.arrayBuffer();
  });

  it.each(tokenFaults.filter((fault) => fault.kind !== 'raw').map((fault) => [fault.kind, fault] as const))(
    'should leak nothing when an API call fails with %s',
    async (name, fault) => {
      const cache = scannedCache(`api ${name}`);
      const authFetch = createAuthFetch(cache);
      await (await authFetch('/payments/imp_0')).arrayBuffer();
      emulator.fault({ ...fault, target: 'api', count: 2 });
      const response = await scanner.scanSettled(`api ${name}: call`, authFetch('/payments/imp_1', { signal: AbortSignal.timeout(500) }));
      if (response instanceof Response) await scanner.scanSettled(`api ${name}: body`, response.text(), { isGatewayData: true });
    },
  );

  it('should leak nothing when the secret is wrong, also from the cool-down', async () => {
    const cache = scannedCache('wrong secret', { impSecret: createCanary('wrong-') });
    await scanner.scanSettled('wrong secret: first', cache.getToken(), { isToken: true });
    await scanner.scanSettled('wrong secret: cool-down', cache.getToken(), { isToken: true });
    await scanner.scanSettled('wrong secret: fetch', createAuthFetch(cache)('/payments/imp_1'));
  });

  it('should leak nothing when a token is revoked and replaced after a 401', async () => {
    const cache = scannedCache('revoked');
    const authFetch = createAuthFetch(cache);
    await (await authFetch('/payments/imp_1')).arrayBuffer();
    expect(emulator.revoke()).toBe(1);
    const response = (await scanner.scanSettled('revoked: call', authFetch('/payments/imp_2'))) as Response;
    expect(response.status).toBe(200);
    await scanner.scanSettled('revoked: body', response.text(), { isGatewayData: true });
    await scanner.scanSettled('revoked: invalidate', cache.invalidate('not-the-token'));
  });

  it('should leak nothing when callers abort or time out', async () => {
    emulator.fault({ kind: 'stall', count: 2 });
    const cache = scannedCache('abort');
    const controller = new AbortController();
    const waiting = scanner.scanSettled('abort: getToken', cache.getToken({ signal: controller.signal }), { isToken: true });
    controller.abort(new Error('caller gave up'));
    await waiting;
    await scanner.scanSettled('abort: fetch', createAuthFetch(cache)('/payments/imp_1', { signal: AbortSignal.timeout(50) }));
    await scanner.scanSettled('abort: pre-aborted', cache.getToken({ signal: AbortSignal.abort() }), { isToken: true });
  });

  it('should leak nothing when the store fails', async () => {
    const failing = (operation: string) => () => Promise.reject(new Error(`store ${operation} failed`));
    const store: TokenStore = { get: failing('get'), set: failing('set'), delete: failing('delete'), lock: failing('lock') };
    const cache = scannedCache('store', { store });
    await scanner.scanSettled('store: getToken', cache.getToken(), { isToken: true });
    const token = await cache.getToken();
    await scanner.scanSettled('store: invalidate', cache.invalidate(token.accessToken));
    scanner.scan('store: store', store);
    const memory = createMemoryTokenStore();
    const shared = scannedCache('memory store', { store: memory });
    await shared.getToken();
    scanner.scan('memory store: store', memory);
  });

  it('should leak nothing from a bad configuration', async () => {
    const badSettings: unknown[] = [
      { impKey: 'imp_apikey', impSecret: `${secret}\r\n` },
      { impKey: 'imp_apikey', impSecret: `${secret} ` },
      { impKey: secret, impSecret: 42 },
      { impKey: 'imp_apikey', impSecret: secret, baseUrl: `https://user:${secret}@api.iamport.kr` },
      { impKey: 'imp_apikey', impSecret: secret, baseUrl: `https://api.iamport.kr/?secret=${secret}` },
      { impKey: 'imp_apikey', impSecret: secret, baseUrl: `http://${secret}.example` },
      { impKey: 'imp_apikey', impSecret: secret, baseUrl: `javascript:${secret}` },
      { impKey: 'imp_apikey', impSecret: secret.repeat(100) },
      JSON.parse(`{"impKey": "k", "impSecret": "${secret}", "__proto__": {"impSecret": "${secret}"}}`),
    ];
    for (const [index, settings] of badSettings.entries()) {
      await scanner.scanSettled(
        `configuration ${index}`,
        Promise.resolve().then(() => createIamportProvider(settings as never)),
      );
    }
    const config = loadMerchantConfig(
      { merchants: { 'shop-kr': { provider: 'iamport', impKey: 'k', impSecret: { $env: 'SECRET' }, baseUrl: 'http://api.iamport.kr' } } },
      { env: { SECRET: secret } },
    ).then(({ merchants }) => createMerchantRegistry({ providers: { iamport: createIamportProvider }, merchants }));
    await scanner.scanSettled('configuration: registry', config);
  });

  it('should leak nothing from a registry of merchants, failing or not', async () => {
    const registry = createMerchantRegistry({
      providers: { iamport: createIamportProvider },
      merchants: {
        good: { provider: 'iamport', impKey: emulator.defaultMerchant.impKey, impSecret: secret, baseUrl: emulator.url },
        wrong: { provider: 'iamport', impKey: emulator.defaultMerchant.impKey, impSecret: createCanary(), baseUrl: emulator.url },
      },
      policy,
      onEvent: (event) => scanner.scan(`registry: event ${event.type}`, event),
    });
    await (await registry.fetch('good')('/payments/imp_1')).arrayBuffer();
    const wrong = (await scanner.scanSettled('registry: wrong', registry.fetch('wrong')('/payments/imp_1'))) as TokenRequestError;
    // The copy that names the merchant still has the raw response, for debugging; inspect does not show it.
    expect(wrong.merchant).toBe('wrong');
    expect(wrong.response?.status).toBe(401);
    await scanner.scanSettled(
      'registry: unknown',
      Promise.resolve().then(() => registry.fetch('shop-unknown')),
    );
    await scanner.scanSettled('registry: foreign origin', registry.fetch('good')('https://evil.example/payments'));
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
      const answer = await request(new URL('/payments/imp_1', emulator.url), { dispatcher });
      await scanner.scanSettled('interceptor: body', answer.body.text(), { isGatewayData: true });
      await scanner.scanSettled('interceptor: foreign', request('https://evil.example/payments/imp_1', { dispatcher }));
      emulator.fault({ kind: 'reset', count: 3 });
      await scanner.scanSettled('interceptor: forced', cache.getToken({ forceRefresh: true }), { isToken: true });
      emulator.revoke();
      emulator.fault({ kind: 'status', count: 10 });
      await scanner.scanSettled(
        'interceptor: revoked',
        request(new URL('/payments/imp_2', emulator.url), { dispatcher }).then((reply) => reply.body.text()),
      );
    } finally {
      await dispatcher.close();
    }
  });

  it('should leak nothing from the emulator handle itself, after it has seen requests', async () => {
    await createAuthFetch(scannedCache('emulator'))('/payments/imp_1').then((response) => response.arrayBuffer());
    scanner.scan('emulator', emulator);
    scanner.scan('emulator counters', emulator.counters);
    expect(JSON.parse(JSON.stringify(emulator))).toMatchObject({ url: emulator.url, counters: { tokenRequests: expect.any(Number) } });
  });

  it('should have scanned every item', () => {
    // The number is the report: how many observed values went through the scanner above.
    expect(scanner.count).toBeGreaterThan(150);
    expect(scanner.leaks).toEqual([]);
  });
});
