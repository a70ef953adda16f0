import { Agent, request } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createAuthFetch } from '../bearer-fetch.js';
import type { TokenRequestError } from '../errors.js';
import { createMerchantRegistry } from '../merchant-registry.js';
import { loadMerchantConfig } from '../node/load-merchant-config.js';
import type { TokenCache, TokenCacheOptions } from '../token-cache.js';
import { createMemoryTokenStore, type TokenStore } from '../token-store.js';
import { createAuthInterceptor } from '../undici/auth-interceptor.js';
import { CanaryScanner, createCanary } from './canary.js';
import type { EmulatorFault } from './emulator-fault.js';
import {
  type ConformanceEmulator,
  type ConformanceFault,
  conformanceSecrets,
  type ProviderConformanceGateway,
} from './provider-conformance.js';
import { createScannedTokenCache } from './scanned-token-cache.js';

/** Fast enough to run every path in milliseconds; a stalled answer times out in 300 ms. */
const policy: TokenCacheOptions['policy'] = { requestTimeoutMs: 300, retryBaseDelayMs: 1, retryMaxDelayMs: 5, failureCooldownMs: 50 };

/**
 * Every fault of the emulator kit's vocabulary, and the answers of a gateway or proxy that echoes the credentials
 * (`secrets`) in its headers, status text or content type, whatever the gateway's wire format.
 */
function kitFaults<Target extends string>(secrets: readonly string[]): ConformanceFault<Target>[] {
  const all = secrets.join(' ');
  const bare = secrets.map((secret, index) => `echo${index}=${secret}`).join('; ');
  const echoHeaders = Object.fromEntries(secrets.map((secret, index) => [`x-echo-${index}`, secret]));
  const faults: Array<[string, EmulatorFault<Target>]> = [400, 401, 403, 429, 500, 503].map((status) => [
    `status ${status}`,
    { kind: 'status', status },
  ]);
  faults.push(
    ['status (the emulator’s default)', { kind: 'status' }],
    ['slow', { kind: 'slow', delayMs: 1_000 }],
    ['malformed', { kind: 'malformed' }],
    ['html', { kind: 'html' }],
    ['truncated', { kind: 'truncated' }],
    ['drop', { kind: 'drop' }],
    ['reset', { kind: 'reset' }],
    ['stall', { kind: 'stall' }],
    ['a redirect', { kind: 'raw', status: 302, headers: { location: 'https://evil.example/steal' }, body: '' }],
    [
      'a 502 proxy page quoting the token',
      { kind: 'raw', status: 502, contentType: 'text/html', body: '<html>xcanary-in-a-proxy-page</html>' },
    ],
    [
      'a 500 proxy page quoting the token',
      { kind: 'raw', status: 500, contentType: 'text/html', body: '<html>xcanary-token-in-a-proxy-page</html>' },
    ],
    ['response headers echoing the credentials', { kind: 'raw', status: 401, headers: echoHeaders }],
    [
      'a status text and content type echoing the credentials',
      { kind: 'raw', status: 401, statusText: `Denied ${all}`, contentType: `text/plain; echo="${all}"`, body: 'no' },
    ],
    [
      'a content type echoing the credentials in bare parameters',
      { kind: 'raw', status: 401, statusText: `Denied ${all}`, contentType: `text/plain; ${bare}`, body: 'no' },
    ],
    [
      'a 200 whose status text and content type echo the credentials',
      { kind: 'raw', status: 200, statusText: `OK ${all}`, contentType: `text/html; echo="${all}"`, body: '<html></html>' },
    ],
  );
  return faults;
}

/**
 * The canary checks: every failure path of the gateway's provider, and of the cache, bearer fetch, undici
 * interceptor and registry in front of it, driven against its emulator, whose credentials and tokens hold the canary
 * marker. Everything a caller can observe (each error's message, stack, cause chain, `util.inspect` with hidden
 * fields and `JSON.stringify`; each event; each public object) is scanned, and no canary may appear. The totals go
 * to `X_CANARY_REPORT` as `<provider>-canary`.
 *
 * @example
 * describeCanaryConformance(iamportConformance);
 */
export function describeCanaryConformance<Settings extends object, Target extends string, Variant>(
  gateway: ProviderConformanceGateway<Settings, Target, Variant>,
): void {
  const scanner = new CanaryScanner(gateway.canary.encodedSecrets ?? []);
  const secrets = conformanceSecrets(gateway);
  const [secretSetting = ''] = gateway.secretSettings;
  let emulator: ConformanceEmulator<Target>;

  function settings(changes: Readonly<Record<string, unknown>> = {}, variant?: Variant): Settings {
    return { ...gateway.settingsFor(emulator.url, variant), ...changes } as Settings;
  }

  /** A cache whose every event is scanned. */
  function scannedCache(label: string, options: TokenCacheOptions & { settings?: Settings } = {}): TokenCache {
    const { settings: given, ...cacheOptions } = options;
    return createScannedTokenCache(scanner, label, gateway.createProvider(given ?? settings()), { policy, ...cacheOptions });
  }

  const tokenFaults = [...kitFaults<Target>(secrets), ...gateway.canary.tokenFaults];
  const apiFaults = [...kitFaults<Target>(secrets), ...gateway.canary.apiFaults];
  const apiPath = (index: number): string => gateway.apiPath(index);

  describe(`${gateway.displayName} secret canaries`, () => {
    beforeAll(async () => {
      emulator = await gateway.createEmulator();
      expect(secrets.every((secret) => secret.includes('xcanary'))).toBe(true);
    });

    afterAll(async () => {
      await emulator.close();
      scanner.report(`${gateway.provider}-canary`);
    });

    afterEach(() => {
      emulator.clearFaults();
      emulator.revoke();
      // Each test shows only its own leaks, masked.
      expect(scanner.takeLeaks()).toEqual([]);
    });

    const tokenFaultCases = (variant?: Variant): void => {
      it.each(tokenFaults)('should leak nothing when the token endpoint answers with %s', async (name, fault) => {
        emulator.fault({ ...fault, count: 3 });
        const label = variant === undefined ? name : `${String(variant)} ${name}`;
        const cache = scannedCache(label, { settings: settings({}, variant) });
        await scanner.scanSettled(`${label}: getToken`, cache.getToken(), { isToken: true });
        await scanner.scanSettled(`${label}: forced getToken`, cache.getToken({ forceRefresh: true }), { isToken: true });
        const authFetch = createAuthFetch(cache);
        scanner.scan(`${label}: authFetch`, authFetch);
        const response = await scanner.scanSettled(`${label}: call`, authFetch(apiPath(1)));
        if (response instanceof Response) await scanner.scanSettled(`${label}: body`, response.text(), { isGatewayData: true });
      });
    };
    if (gateway.variants === undefined) tokenFaultCases();
    else describe.each(gateway.variants.map((variant) => [variant]))('on the %s endpoint', (variant) => tokenFaultCases(variant));

    it.each(apiFaults)('should leak nothing when an API call fails with %s', async (name, fault) => {
      const cache = scannedCache(`api ${name}`);
      const authFetch = createAuthFetch(cache);
      await (await authFetch(apiPath(0))).arrayBuffer();
      emulator.fault({ ...fault, target: gateway.apiTarget, count: 2 });
      const response = await scanner.scanSettled(`api ${name}: call`, authFetch(apiPath(1), { signal: AbortSignal.timeout(500) }));
      if (response instanceof Response) await scanner.scanSettled(`api ${name}: body`, response.text(), { isGatewayData: true });
    });

    const wrongSettings = [
      ...gateway.secretSettings.map((name) => [name, { [name]: createCanary('wrong-') }] as const),
      ...gateway.canary.wrongSettings,
    ];
    it.each(wrongSettings)('should leak nothing when the %s is wrong, also from the cool-down', async (name, changes) => {
      const cache = scannedCache(`wrong ${name}`, { settings: settings(changes) });
      await scanner.scanSettled(`wrong ${name}: first`, cache.getToken(), { isToken: true });
      await scanner.scanSettled(`wrong ${name}: cool-down`, cache.getToken(), { isToken: true });
      await scanner.scanSettled(`wrong ${name}: fetch`, createAuthFetch(cache)(apiPath(1)));
    });

    it('should leak nothing when a token is revoked and replaced after a 401', async () => {
      const cache = scannedCache('revoked');
      const authFetch = createAuthFetch(cache);
      await (await authFetch(apiPath(1))).arrayBuffer();
      expect(emulator.revoke()).toBe(1);
      const response = (await scanner.scanSettled('revoked: call', authFetch(apiPath(2)))) as Response;
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
      await scanner.scanSettled('abort: fetch', createAuthFetch(cache)(apiPath(1), { signal: AbortSignal.timeout(50) }));
      await scanner.scanSettled('abort: pre-aborted', cache.getToken({ signal: AbortSignal.abort() }), { isToken: true });
    });

    it('should leak nothing when the store fails', async () => {
      const failing = (operation: string) => () => Promise.reject(new Error(`store ${operation} failed`));
      const store: TokenStore = { get: failing('get'), set: failing('set'), delete: failing('delete'), lock: failing('lock') };
      const cache = scannedCache('store', { store });
      await scanner.scanSettled('store: getToken', cache.getToken(), { isToken: true });
      const token = await cache.getToken();
      await scanner.scanSettled('store: invalidate', cache.invalidate(token.accessToken));
      await scanner.scanSettled('store: again', cache.getToken(), { isToken: true });
      scanner.scan('store: store', store);
      const memory = createMemoryTokenStore();
      await scannedCache('memory store', { store: memory }).getToken();
      scanner.scan('memory store: store', memory);
    });

    it('should leak nothing from a bad configuration', async () => {
      const host = new URL(gateway.defaultBaseUrl).host;
      const [secret = ''] = secrets;
      const [otherCredential = secretSetting] = gateway.credentialSettings.filter((name) => name !== secretSetting);
      const bad: Array<Readonly<Record<string, unknown>>> = [
        ...gateway.secretSettings.flatMap((name, index) => {
          const value = secrets[index] ?? '';
          return [
            { [name]: `${value}\r\nX-Evil: 1` },
            { [name]: `${value}\r\n` },
            { [name]: `${value}\n` },
            { [name]: `${value} ` },
            { [name]: value.repeat(100) },
            { [name]: { key: value } },
          ];
        }),
        { [otherCredential]: secret, [secretSetting]: 42 },
        { baseUrl: `https://user:${secret}@${host}` },
        ...secrets.map((value) => ({ baseUrl: `https://${host}/?key=${value}` })),
        ...secrets.map((value) => ({ baseUrl: `http://${value}.example` })),
        { baseUrl: `javascript:${secret}` },
        { baseUrl: `file:///${secret}` },
        ...gateway.canary.badSettings,
      ];
      for (const [index, changes] of bad.entries()) {
        await scanner.scanSettled(
          `configuration ${index}`,
          Promise.resolve().then(() => gateway.createProvider(settings(changes))),
        );
      }
      const polluted = JSON.parse(JSON.stringify(settings()).replace(/}$/, `,"__proto__":{"${secretSetting}":"${secret}"}}`));
      await scanner.scanSettled(
        'configuration: __proto__',
        Promise.resolve().then(() => gateway.createProvider(polluted)),
      );
      const merchant = (changes: Record<string, unknown>): Record<string, unknown> => ({
        provider: gateway.provider,
        ...gateway.settingsFor(`https://${host}`),
        ...changes,
      });
      const registry = loadMerchantConfig(
        {
          merchants: {
            'shop-http': merchant({ [secretSetting]: { $env: 'SECRET' }, baseUrl: `http://${host}` }),
            'shop-line-break': merchant({ [secretSetting]: { $env: 'BROKEN' } }),
          },
        },
        { env: { SECRET: secret, BROKEN: `${secret}\n` } },
      ).then(({ merchants }) => createMerchantRegistry({ providers: { [gateway.provider]: gateway.createProvider }, merchants }));
      await scanner.scanSettled('configuration: registry', registry);
    });

    it('should leak nothing from a registry of merchants, failing or not', async () => {
      const registry = createMerchantRegistry({
        providers: { [gateway.provider]: gateway.createProvider },
        merchants: {
          good: { provider: gateway.provider, ...settings() },
          wrong: { provider: gateway.provider, ...settings({ [secretSetting]: createCanary() }) },
        },
        policy,
        onEvent: (event) => scanner.scan(`registry: event ${event.type}`, event),
      });
      await (await registry.fetch('good')(apiPath(1))).arrayBuffer();
      const wrong = (await scanner.scanSettled('registry: wrong', registry.fetch('wrong')(apiPath(1)))) as TokenRequestError;
      // The error that names the merchant still has the raw response, for debugging; inspect does not show it.
      expect(wrong.merchant).toBe('wrong');
      expect(wrong.response?.status).toBe(401);
      await scanner.scanSettled(
        'registry: unknown',
        Promise.resolve().then(() => registry.fetch('shop-unknown')),
      );
      await scanner.scanSettled('registry: foreign origin', registry.fetch('good')(`https://evil.example${apiPath(1)}`));
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
        const answer = await request(new URL(apiPath(1), emulator.url), { dispatcher });
        await scanner.scanSettled('interceptor: body', answer.body.text(), { isGatewayData: true });
        await scanner.scanSettled('interceptor: foreign', request(`https://evil.example${apiPath(1)}`, { dispatcher }));
        emulator.fault({ kind: 'reset', count: 3 });
        await scanner.scanSettled('interceptor: forced', cache.getToken({ forceRefresh: true }), { isToken: true });
        emulator.revoke();
        emulator.fault({ kind: 'status', status: 500, count: 10 });
        await scanner.scanSettled(
          'interceptor: revoked',
          request(new URL(apiPath(2), emulator.url), { dispatcher }).then((reply) => reply.body.text()),
          { isGatewayData: true },
        );
      } finally {
        await dispatcher.close();
      }
    });

    it('should leak nothing from the emulator handle itself, after it has seen requests', async () => {
      await createAuthFetch(scannedCache('emulator'))(apiPath(1)).then((response) => response.arrayBuffer());
      expect(emulator.seen(gateway.tokenTarget).length).toBeGreaterThan(0);
      scanner.scan('emulator', emulator);
      scanner.scan('emulator counters', emulator.counters);
      expect(emulator.counters.tokenRequests).toEqual(expect.any(Number));
      expect(JSON.parse(JSON.stringify(emulator))).toEqual({ url: emulator.url, counters: emulator.counters });
    });

    it('should have scanned every item', () => {
      // The number is the report: how many observed values went through the scanner above.
      expect(scanner.count).toBeGreaterThan(gateway.canary.minimumScanned);
      expect(scanner.leaks).toEqual([]);
    });
  });
}
