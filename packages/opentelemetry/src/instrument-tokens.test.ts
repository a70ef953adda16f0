import { metrics, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { createAuthFetch, createMemoryTokenStore, createMerchantRegistry, createTokenCache, ErrorCode, type TokenStore } from '@x/core';
import { createAuthInterceptor } from '@x/core/undici';
import { startTestTokenServer, type TestTokenServer, testProvider } from '@x/test-support/token-server';
import { Agent, request } from 'undici';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { httpSpans, pointsOf, spansNamed, startTelemetry, type Telemetry } from '../test/telemetry.js';
import { instrumentTokens } from './index.js';

let server: TestTokenServer;
let telemetry: Telemetry;
let stop: () => void;

beforeEach(async () => {
  server = await startTestTokenServer();
  telemetry = startTelemetry();
  stop = instrumentTokens({ meterProvider: telemetry.meterProvider, tracerProvider: telemetry.tracerProvider });
});
afterEach(async () => {
  stop();
  await telemetry.shutdown();
  await server.close();
});

describe('instrumentTokens', () => {
  describe('metrics', () => {
    it('should count each token request and time it in seconds, by provider and reason only', async () => {
      const registry = createMerchantRegistry({
        providers: { test: () => testProvider(server) },
        merchants: { 'shop-a': { provider: 'test' } },
      });
      await registry.tokens('shop-a').getToken();
      await registry.tokens('shop-a').getToken({ forceRefresh: true });
      await registry.tokens('shop-a').getToken();
      await registry.close();

      const metrics = await telemetry.metrics();
      expect(pointsOf(metrics.get('x.token.requests'))).toEqual([
        [{ 'x.provider': 'test', 'x.token.reason': 'initial' }, 1],
        [{ 'x.provider': 'test', 'x.token.reason': 'forced' }, 1],
      ]);
      const duration = metrics.get('x.token.request.duration');
      expect(duration?.descriptor).toMatchObject({ unit: 's' });
      expect(pointsOf(duration)).toEqual([
        [{ 'x.provider': 'test', 'x.token.reason': 'initial' }, 1],
        [{ 'x.provider': 'test', 'x.token.reason': 'forced' }, 1],
      ]);
    });

    it("should set error.type to the error's code on a failed request", async () => {
      server.mode = 503;
      const cache = createTokenCache(testProvider(server));

      await expect(cache.getToken()).rejects.toMatchObject({ code: ErrorCode.TokenRequestFailed });

      const metrics = await telemetry.metrics();
      const failed = { 'x.provider': 'test', 'x.token.reason': 'initial', 'error.type': ErrorCode.TokenRequestFailed };
      expect(pointsOf(metrics.get('x.token.requests'))).toEqual([[failed, 1]]);
      expect(pointsOf(metrics.get('x.token.request.duration'))).toEqual([[failed, 1]]);
    });

    it('should count refreshes served stale, store errors by operation, and lock waits', async () => {
      const cache = createTokenCache(testProvider(server));
      await cache.getToken();
      server.mode = 503;
      // A forced refresh that fails while the held token is still valid: the token keeps being served.
      await expect(cache.getToken({ forceRefresh: true })).rejects.toThrow();

      // A store whose reads fail: the cache carries on with the gateway.
      const failingStore: TokenStore = {
        get: () => Promise.reject(new Error('store unavailable')),
        set: () => Promise.resolve(),
        delete: () => Promise.resolve(),
      };
      server.mode = 'ok';
      await createTokenCache(testProvider(server, { cacheKey: 'test:failing-store' }), { store: failingStore }).getToken();

      // Two processes sharing one store: the second waits for the first's token while it holds the lock.
      const store = createMemoryTokenStore();
      const provider = testProvider(server, { cacheKey: 'test:shared' });
      server.delayMs = 60;
      await Promise.all([createTokenCache(provider, { store }).getToken(), createTokenCache(provider, { store }).getToken()]);
      // A holder that leaves without a token: the waiter takes the lock over and asks itself.
      const leaving = testProvider(server, { cacheKey: 'test:left' });
      const holder = await store.lock!(leaving.cacheKey, 60_000);
      const waiting = createTokenCache(leaving, { store }).getToken();
      setTimeout(() => void holder!.release(), 20);
      await waiting;

      const metrics = await telemetry.metrics();
      expect(pointsOf(metrics.get('x.token.served_stale'))).toEqual([[{ 'x.provider': 'test' }, 1]]);
      expect(pointsOf(metrics.get('x.token.store.errors'))).toEqual([[{ 'x.provider': 'test', 'x.store.operation': 'get' }, 1]]);
      const lockWait = metrics.get('x.token.lock.wait.duration');
      expect(lockWait?.descriptor).toMatchObject({ unit: 's' });
      expect(pointsOf(lockWait)).toEqual([
        [{ 'x.provider': 'test', 'x.token.lock.received': true, 'x.token.lock.taken': false }, 1],
        [{ 'x.provider': 'test', 'x.token.lock.received': false, 'x.token.lock.taken': true }, 1],
      ]);
    });

    it('should use the global providers when given none', async () => {
      stop();
      trace.setGlobalTracerProvider(telemetry.tracerProvider);
      metrics.setGlobalMeterProvider(telemetry.meterProvider);
      try {
        stop = instrumentTokens();
        await createTokenCache(testProvider(server)).getToken();
      } finally {
        trace.disable();
        metrics.disable();
      }

      expect(pointsOf((await telemetry.metrics()).get('x.token.requests'))).toEqual([
        [{ 'x.provider': 'test', 'x.token.reason': 'initial' }, 1],
      ]);
      expect(spansNamed(telemetry, 'x.token.request')).toHaveLength(1);
    });

    it('should record nothing once stopped', async () => {
      stop();
      await createTokenCache(testProvider(server)).getToken();

      expect([...(await telemetry.metrics()).values()].flatMap((metric) => pointsOf(metric))).toEqual([]);
      expect(spansNamed(telemetry, 'x.token.request')).toEqual([]);
    });
  });

  describe('spans', () => {
    it("should start an INTERNAL x.token.request span per token request, the parent of undici's HTTP client span", async () => {
      const registry = createMerchantRegistry({
        providers: { test: () => testProvider(server) },
        merchants: { 'shop-a': { provider: 'test' }, 'shop-b': { provider: 'test' } },
      });
      const tokens = registry.tokens('shop-a');
      expect(registry.tokens('shop-b')).toBe(tokens);
      const tracer = telemetry.tracerProvider.getTracer('test');

      await tracer.startActiveSpan('checkout', async (checkout) => {
        await tokens.getToken();
        checkout.end();
      });
      await registry.close();

      const [checkout] = spansNamed(telemetry, 'checkout');
      const [request] = spansNamed(telemetry, 'x.token.request');
      const [http] = httpSpans(telemetry, '/token');
      expect(request?.kind).toBe(SpanKind.INTERNAL);
      expect(request?.parentSpanContext?.spanId).toBe(checkout?.spanContext().spanId);
      expect(http?.parentSpanContext?.spanId).toBe(request?.spanContext().spanId);
      expect(http?.spanContext().traceId).toBe(checkout?.spanContext().traceId);
      expect({ ...request?.attributes, 'x.merchant.ids': [...((request?.attributes['x.merchant.ids'] as string[]) ?? [])].sort() }).toEqual(
        {
          'x.provider': 'test',
          'x.token.reason': 'initial',
          'x.token.cache_key': tokens.provider.cacheKey,
          'x.merchant.ids': ['shop-a', 'shop-b'],
        },
      );
      expect(request?.status.code).toBe(SpanStatusCode.UNSET);
    });

    it('should end the span of a failed request with an error status and error.type', async () => {
      server.mode = 401;
      await expect(createTokenCache(testProvider(server)).getToken()).rejects.toThrow();

      const [request] = spansNamed(telemetry, 'x.token.request');
      expect(request?.status).toMatchObject({ code: SpanStatusCode.ERROR, message: expect.stringContaining('status 401') });
      expect(request?.attributes['error.type']).toBe(ErrorCode.TokenRequestFailed);
      expect(request?.attributes['x.merchant.ids']).toEqual([]);
    });

    it("should put http.request.resend_count on the HTTP client span of the bearer fetch's retry after a 401", async () => {
      const cache = createTokenCache(testProvider(server));
      server.validTokens.delete((await cache.getToken()).accessToken);

      const response = await createAuthFetch(cache)('/api/payments');

      expect(response.status).toBe(200);
      const calls = httpSpans(telemetry, '/api/payments');
      expect(calls.map((span) => [span.attributes['http.response.status_code'], span.attributes['http.request.resend_count']])).toEqual([
        [401, undefined],
        [200, 1],
      ]);
      // The retry's new token request is traced too, as an invalidation.
      expect(spansNamed(telemetry, 'x.token.request').map((span) => span.attributes['x.token.reason'])).toEqual(['initial', 'invalidated']);
    });

    it("should put http.request.resend_count on the HTTP client span of the undici interceptor's retry after a 401", async () => {
      const cache = createTokenCache(testProvider(server));
      server.validTokens.delete((await cache.getToken()).accessToken);
      const dispatcher = new Agent().compose(createAuthInterceptor(cache));

      const response = await request(`${server.url}/api/payments`, { dispatcher });
      await response.body.text();
      await dispatcher.close();

      expect(response.statusCode).toBe(200);
      const calls = httpSpans(telemetry, '/api/payments');
      expect(calls.map((span) => span.attributes['http.request.resend_count'])).toEqual([undefined, 1]);
    });
  });
});
