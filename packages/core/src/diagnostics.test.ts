import { AsyncLocalStorage } from 'node:async_hooks';
import diagnostics from 'node:diagnostics_channel';
import { startTestTokenServer, type TestTokenServer, testProvider } from '@x/test-support/token-server';
import { Agent, request } from 'undici';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { diagnosticsChannelOf } from './diagnostics.js';
import {
  type ApiResendMessage,
  apiResendChannelName,
  createAuthFetch,
  createMerchantRegistry,
  createTokenCache,
  ErrorCode,
  type TokenEvent,
  type TokenEventMessage,
  type TokenRequestMessage,
  tokenEventChannelName,
  tokenRequestChannelName,
} from './index.js';
import { createAuthInterceptor } from './undici/index.js';

let server: TestTokenServer;
/** Undone after each test: subscriptions and bound stores. */
let cleanups: (() => void)[];

beforeEach(async () => {
  server = await startTestTokenServer();
  cleanups = [];
});
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) cleanup();
  await server.close();
});

type TracingEvent = 'start' | 'end' | 'asyncStart' | 'asyncEnd' | 'error';

/** Subscribes to the token request channel; returns what it saw, in order, with the message of each event. */
function traceRequests(): { name: TracingEvent; message: TokenRequestMessage }[] {
  const seen: { name: TracingEvent; message: TokenRequestMessage }[] = [];
  const record =
    (name: TracingEvent) =>
    (message: unknown): void => {
      seen.push({ name, message: message as TokenRequestMessage });
    };
  const subscribers = {
    start: record('start'),
    end: record('end'),
    asyncStart: record('asyncStart'),
    asyncEnd: record('asyncEnd'),
    error: record('error'),
  };
  const channel = diagnostics.tracingChannel(tokenRequestChannelName);
  channel.subscribe(subscribers);
  cleanups.push(() => channel.unsubscribe(subscribers));
  return seen;
}

/** Subscribes to a plain channel; returns the messages. */
function listen<T>(name: string): T[] {
  const seen: T[] = [];
  const subscriber = (message: unknown): void => {
    seen.push(message as T);
  };
  diagnostics.subscribe(name, subscriber);
  cleanups.push(() => diagnostics.unsubscribe(name, subscriber));
  return seen;
}

/** Binds a store to `channel`, holding what `transform` makes of the message while the channel runs a function. */
function bindStore<T>(channel: diagnostics.Channel, transform: (message: unknown) => T): AsyncLocalStorage<T> {
  const store = new AsyncLocalStorage<T>();
  channel.bindStore(store, transform);
  cleanups.push(() => channel.unbindStore(store));
  return store;
}

describe('the token request channel', () => {
  it('should publish start, end, asyncStart and asyncEnd around each token request, with its provider, cache key, reason and merchants', async () => {
    const seen = traceRequests();
    const provider = testProvider(server);
    const cache = createTokenCache(provider, { merchants: () => ['shop-a', 'shop-b'] });

    const { accessToken } = await cache.getToken();
    await cache.getToken();

    expect(seen.map((event) => event.name)).toEqual(['start', 'end', 'asyncStart', 'asyncEnd']);
    const message = seen[0]!.message;
    for (const event of seen) expect(event.message).toBe(message);
    expect(message).toEqual({ provider: 'test', cacheKey: provider.cacheKey, reason: 'initial', merchants: ['shop-a', 'shop-b'] });
    expect(Object.isFrozen(message.merchants)).toBe(true);
    expect(JSON.stringify(message)).not.toContain(accessToken);

    await cache.getToken({ forceRefresh: true });
    expect(seen.slice(4).map((event) => [event.name, event.message.reason])).toEqual([
      ['start', 'forced'],
      ['end', 'forced'],
      ['asyncStart', 'forced'],
      ['asyncEnd', 'forced'],
    ]);
  });

  it('should publish error, with the AuthError, before asyncStart and asyncEnd when the request fails', async () => {
    const seen = traceRequests();
    server.mode = 503;
    const cache = createTokenCache(testProvider(server));

    await expect(cache.getToken()).rejects.toMatchObject({ code: ErrorCode.TokenRequestFailed });

    expect(seen.map((event) => event.name)).toEqual(['start', 'end', 'error', 'asyncStart', 'asyncEnd']);
    expect(seen[0]!.message.merchants).toEqual([]);
    expect(seen[2]!.message.error).toMatchObject({ code: ErrorCode.TokenRequestFailed, provider: 'test', status: 503 });
  });

  it("should run the provider's fetch inside the stores bound to its start event", async () => {
    const store = bindStore(diagnostics.tracingChannel(tokenRequestChannelName).start, (message) => ({
      reason: (message as TokenRequestMessage).reason,
    }));
    const storeAtFetch: unknown[] = [];
    const cache = createTokenCache(testProvider(server), {
      fetch: (input, init) => {
        storeAtFetch.push(store.getStore());
        return globalThis.fetch(input, init);
      },
    });

    await cache.getToken();
    await cache.getToken({ forceRefresh: true });

    expect(storeAtFetch).toEqual([{ reason: 'initial' }, { reason: 'forced' }]);
    expect(store.getStore()).toBeUndefined();
  });

  it('should build no message when nobody subscribes', async () => {
    let merchantReads = 0;
    const cache = createTokenCache(testProvider(server), {
      merchants: () => {
        merchantReads += 1;
        return ['shop-a'];
      },
    });

    await cache.getToken();
    expect(merchantReads).toBe(0);

    traceRequests();
    await cache.getToken({ forceRefresh: true });
    expect(merchantReads).toBe(1);
  });
});

describe('the token event channel', () => {
  it('should carry every event a listener gets, with no merchants outside a registry', async () => {
    const published = listen<TokenEventMessage>(tokenEventChannelName);
    const heard: TokenEvent[] = [];
    const cache = createTokenCache(testProvider(server), { onEvent: (event) => heard.push(event) });

    const { accessToken } = await cache.getToken();
    await cache.invalidate(accessToken);
    server.mode = 503;
    await expect(cache.getToken()).rejects.toThrow();

    expect(published.map((event) => event.type)).toEqual([
      'token-requested',
      'token-refreshed',
      'token-invalidated',
      'token-requested',
      'token-request-failed',
    ]);
    expect(published).toEqual(heard);
    for (const event of published) expect(event).not.toHaveProperty('merchants');
  });

  it("should publish events with no listener, with the merchants sharing a registry's cache", async () => {
    const published = listen<TokenEventMessage>(tokenEventChannelName);
    const registry = createMerchantRegistry({
      providers: { test: () => testProvider(server) },
      merchants: { 'shop-a': { provider: 'test' }, 'shop-b': { provider: 'test' } },
    });

    // Both merchants in hand, sharing one cache: the same credentials.
    expect(registry.tokens('shop-b')).toBe(registry.tokens('shop-a'));
    await registry.tokens('shop-a').getToken();

    expect(published.map((event) => [event.type, [...(event.merchants ?? [])].sort()])).toEqual([
      ['token-requested', ['shop-a', 'shop-b']],
      ['token-refreshed', ['shop-a', 'shop-b']],
    ]);
    await registry.close();
  });
});

describe('the API resend channel', () => {
  /** The resend message in force when undici created each request: what an HTTP client instrumentation sees. */
  function resendAtEachRequest(): (ApiResendMessage | undefined)[] {
    const store = bindStore(diagnostics.channel(apiResendChannelName), (message) => message as ApiResendMessage);
    const seen: (ApiResendMessage | undefined)[] = [];
    const onCreate = (): void => {
      seen.push(store.getStore());
    };
    diagnostics.subscribe('undici:request:create', onCreate);
    cleanups.push(() => diagnostics.unsubscribe('undici:request:create', onCreate));
    return seen;
  }

  it("should send the bearer fetch's retry after a 401 inside the channel's stores, with the resend count", async () => {
    const seen = resendAtEachRequest();
    const provider = testProvider(server);
    const cache = createTokenCache(provider);
    server.validTokens.delete((await cache.getToken()).accessToken);

    const response = await createAuthFetch(cache)('/api/payments');

    expect(response.status).toBe(200);
    // The token request, the refused call, the new token request, the retry.
    expect(seen).toEqual([
      undefined,
      undefined,
      undefined,
      { provider: 'test', cacheKey: provider.cacheKey, resendCount: 1, reason: 'unauthorized' },
    ]);
  });

  it('should count each redirect the bearer fetch follows as one more resend', async () => {
    const seen = resendAtEachRequest();
    const authFetch = createAuthFetch(testProvider(server));
    const twice = `/api/redirect?status=302&location=${encodeURIComponent('/api/redirect?status=307&location=/api/landed')}`;

    const response = await authFetch(twice);

    expect(response.status).toBe(200);
    expect(seen.map((message) => message && [message.resendCount, message.reason])).toEqual([
      undefined,
      undefined,
      [1, 'redirect'],
      [2, 'redirect'],
    ]);
  });

  it("should send the undici interceptor's retry after a 401 inside the channel's stores", async () => {
    const seen = resendAtEachRequest();
    const cache = createTokenCache(testProvider(server));
    server.validTokens.delete((await cache.getToken()).accessToken);
    const dispatcher = new Agent().compose(createAuthInterceptor(cache));
    cleanups.push(() => void dispatcher.close());

    const response = await request(`${server.url}/api/payments`, { dispatcher });
    await response.body.text();

    expect(response.statusCode).toBe(200);
    expect(seen.slice(-2).map((message) => message && [message.resendCount, message.reason])).toEqual([undefined, [1, 'unauthorized']]);
  });

  it('should publish nothing for a call answered at once', async () => {
    const published = listen<ApiResendMessage>(apiResendChannelName);

    await createAuthFetch(testProvider(server))('/api/payments');

    expect(published).toEqual([]);
  });
});

describe('diagnosticsChannelOf', () => {
  it('should find node:diagnostics_channel through process.getBuiltinModule', () => {
    expect(diagnosticsChannelOf(globalThis)).toBe(diagnostics);
  });

  it('should find nothing, and never throw, where the runtime has no such module', () => {
    expect(diagnosticsChannelOf({})).toBeUndefined();
    expect(diagnosticsChannelOf({ process: {} })).toBeUndefined();
    expect(diagnosticsChannelOf({ process: { getBuiltinModule: () => undefined } })).toBeUndefined();
    expect(diagnosticsChannelOf({ process: { getBuiltinModule: () => ({ channel: () => undefined }) } })).toBeUndefined();
    expect(
      diagnosticsChannelOf({
        process: {
          getBuiltinModule: () => {
            throw new Error('no such module');
          },
        },
      }),
    ).toBeUndefined();
  });
});
