/**
 * Secret canaries over everything the instrumentation exports: every span (name, attributes, events, links, status)
 * and every metric (descriptor and point attributes), after the i'mport emulator's canary credentials and canary
 * tokens went through token requests, API calls, a 401 retry, failures and a store error.
 */
import { createAuthFetch, createMerchantRegistry, createTokenCache, type TokenStore } from '@x/core';
import { canaryMarker, containsCanary } from '@x/core/testing';
import { createIamportProvider } from '@x/iamport';
import { createIamportEmulator, type IamportEmulator } from '@x/iamport/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { httpSpans, spansNamed, startTelemetry, type Telemetry } from '../test/telemetry.js';
import { instrumentTokens } from './index.js';

let emulator: IamportEmulator | undefined;
let telemetry: Telemetry | undefined;
let stop: (() => void) | undefined;
afterEach(async () => {
  stop?.();
  await telemetry?.shutdown();
  await emulator?.close();
});

describe('instrumentTokens canaries', () => {
  it('should put no secret or token in any exported span or metric', async () => {
    emulator = await createIamportEmulator({ tokenFormat: 'canary' });
    telemetry = startTelemetry();
    stop = instrumentTokens({ meterProvider: telemetry.meterProvider, tracerProvider: telemetry.tracerProvider });
    const { impKey, impSecret } = emulator.defaultMerchant;
    expect(impSecret).toContain(canaryMarker);
    const registry = createMerchantRegistry({
      providers: { iamport: createIamportProvider },
      merchants: { 'shop-kr': { provider: 'iamport', impKey, impSecret, baseUrl: emulator.url } },
    });
    const shop = registry.fetch('shop-kr');
    const tokens = registry.tokens('shop-kr');

    // A token request and an API call; then the token revoked: a 401, a new token, the retry.
    expect((await shop('/payments/imp_448280090638')).status).toBe(200);
    const { accessToken: first } = await tokens.getToken();
    emulator.revoke();
    expect((await shop('/payments/imp_448280090638')).status).toBe(200);
    const { accessToken: second } = await tokens.getToken();
    // Failures while a token is held: a gateway error quoting the secret, then a bare 503; both served stale.
    emulator.fault({ kind: 'body', status: 500, body: { code: -1, message: `bad secret ${impSecret}`, response: null } });
    await expect(tokens.getToken({ forceRefresh: true })).rejects.toThrow();
    emulator.fault({ kind: 'status', status: 503 });
    await expect(tokens.getToken({ forceRefresh: true })).rejects.toThrow();
    // Credentials refused, and a store that fails with the secret in its message.
    await expect(
      createTokenCache(createIamportProvider({ impKey, impSecret: `${impSecret}-wrong`, baseUrl: emulator.url })).getToken(),
    ).rejects.toThrow();
    const leakyStore: TokenStore = {
      get: () => Promise.reject(new Error(`store refused ${impSecret}`)),
      set: () => Promise.resolve(),
      delete: () => Promise.resolve(),
    };
    await createAuthFetch(createIamportProvider({ impKey, impSecret, baseUrl: emulator.url }), { store: leakyStore })('/payments/imp_1');
    await registry.close();

    // The scan covers what it claims to: every kind of span and metric was exported.
    const spans = telemetry.spans();
    expect(spansNamed(telemetry, 'x.token.request').length).toBeGreaterThanOrEqual(5);
    expect(httpSpans(telemetry, '/users/getToken').length).toBeGreaterThanOrEqual(5);
    expect(httpSpans(telemetry, '/payments/imp_448280090638').map((span) => span.attributes['http.request.resend_count'])).toEqual([
      undefined,
      undefined,
      1,
    ]);
    const metrics = [...(await telemetry.metrics()).values()];
    expect(metrics.map((metric) => metric.descriptor.name)).toEqual(
      expect.arrayContaining(['x.token.requests', 'x.token.request.duration', 'x.token.served_stale', 'x.token.store.errors']),
    );

    const secrets = [impSecret, first, second];
    for (const span of spans) {
      const exported = { name: span.name, attributes: span.attributes, events: span.events, links: span.links, status: span.status };
      expect(containsCanary(JSON.stringify(exported), secrets), `span ${span.name}`).toBe(false);
    }
    for (const metric of metrics) {
      const exported = { descriptor: metric.descriptor, attributes: metric.dataPoints.map((point) => point.attributes) };
      expect(containsCanary(JSON.stringify(exported), secrets), `metric ${metric.descriptor.name}`).toBe(false);
    }
  });
});
