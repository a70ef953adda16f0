import { Readable } from 'node:stream';
import { apiHeaders, sharedBytes, startTestTokenServer, type TestTokenServer, testProvider } from '@x/test-support/token-server';
import { Agent, type Dispatcher, fetch, interceptors, Pool, request } from 'undici';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ForeignOriginError, isForeignOriginError, isTokenRequestError, TokenRequestError } from '../errors.js';
import { createTokenCache, type TokenCache } from '../token-cache.js';
import type { TokenProvider } from '../token-provider.js';
import { createAuthDispatcher } from './auth-dispatcher.js';
import { type AuthInterceptorOptions, createAuthInterceptor } from './auth-interceptor.js';

/**
 * The two ways to authenticate an undici dispatcher, one behaviour: `below` is the dispatcher the authenticated
 * requests go down to (an Agent, a Pool, or one composed with other interceptors).
 */
const variants = [
  {
    name: 'createAuthInterceptor',
    over: (below: Dispatcher, providerOrCache: TokenProvider | TokenCache, options: AuthInterceptorOptions): Dispatcher =>
      below.compose(createAuthInterceptor(providerOrCache, options)),
  },
  {
    name: 'createAuthDispatcher',
    over: (below: Dispatcher, providerOrCache: TokenProvider | TokenCache, options: AuthInterceptorOptions): Dispatcher =>
      createAuthDispatcher(providerOrCache, { ...options, dispatcher: below }),
  },
] as const;

describe.each(variants)('$name', ({ over }) => {
  let server: TestTokenServer;
  let foreign: TestTokenServer;
  let agent: Agent;

  beforeEach(async () => {
    server = await startTestTokenServer();
    foreign = await startTestTokenServer();
    agent = new Agent();
  });

  afterEach(async () => {
    await agent.close();
    await server.close();
    await foreign.close();
  });

  const provider = (overrides: Partial<TokenProvider> = {}): TokenProvider => testProvider(server, { apiHeaders, ...overrides });
  const dispatcherFor = (
    providerOrCache: TokenProvider | TokenCache,
    options: AuthInterceptorOptions = {},
    below: Dispatcher = agent,
  ): Dispatcher => over(below, providerOrCache, options);
  const tokenOfCall = (index: number): string | undefined => /^Bearer (.+)$/.exec(server.apiCalls[index]?.headers.authorization ?? '')?.[1];

  /** A cache already holding a token that the server has since revoked, so the next call gets a 401. */
  const cacheWithRevokedToken = async (): Promise<{ cache: TokenCache; revoked: string }> => {
    const cache = createTokenCache(provider());
    const { accessToken } = await cache.getToken();
    server.validTokens.delete(accessToken);
    return { cache, revoked: accessToken };
  };

  describe('an API that refuses every token', () => {
    it('should not ask for a token per call: one refresh, then the 401s as they come until the backoff step ends', async () => {
      server.apiRefusesAll = true;
      // A step of a minute (no jitter below it): the calls are timed by the machine, and a loaded one took longer
      // than a step drawn short at random, so a third request came.
      const dispatcher = dispatcherFor(provider(), { random: () => 1, policy: { retryBaseDelayMs: 60_000, retryMaxDelayMs: 60_000 } });
      for (let call = 0; call < 20; call += 1) {
        const response = await request(`${server.url}/api/payments`, { dispatcher });
        expect(response.statusCode).toBe(401);
        await response.body.dump();
      }
      expect(server.tokenRequests).toBe(2);
    });
  });

  describe('headers', () => {
    it('should add the bearer token and the provider API headers', async () => {
      const response = await request(`${server.url}/api/payments`, { dispatcher: dispatcherFor(provider()) });

      expect(response.statusCode).toBe(200);
      expect(await response.body.json()).toEqual({ ok: true, path: '/api/payments', body: '' });
      const [call] = server.apiCalls;
      expect(call?.headers.authorization).toBe(`Bearer ${[...server.validTokens][0]}`);
      expect(call?.headers['ocp-apim-subscription-key']).toBe('subscription-key');
      expect(call?.headers['merchant-serial-number']).toBe('123456');
    });

    it.each([
      ['an object', () => ({ 'Merchant-Serial-Number': '654321', 'X-Request-Id': 'abc', Authorization: 'Bearer forged' })],
      ['a flat array', () => ['Merchant-Serial-Number', '654321', 'X-Request-Id', 'abc', 'Authorization', 'Bearer forged']],
      [
        'an iterable of pairs',
        () =>
          new Map<string, string>([
            ['Merchant-Serial-Number', '654321'],
            ['X-Request-Id', 'abc'],
            ['Authorization', 'Bearer forged'],
          ]),
      ],
    ] as Array<[string, () => Dispatcher.DispatchOptions['headers']]>)(
      'should let headers the caller set as %s win, except Authorization',
      async (_shape, headers) => {
        const response = await request(`${server.url}/api/payments`, { dispatcher: dispatcherFor(provider()), headers: headers() });

        expect(response.statusCode).toBe(200);
        await response.body.dump();
        const [call] = server.apiCalls;
        expect(call?.headers['merchant-serial-number']).toBe('654321');
        expect(call?.headers['x-request-id']).toBe('abc');
        expect(call?.headers['ocp-apim-subscription-key']).toBe('subscription-key');
        expect(call?.headers.authorization).not.toBe('Bearer forged');
        expect(server.validTokens.has(tokenOfCall(0) ?? '')).toBe(true);
      },
    );

    it('should keep every value of a header the caller repeats', async () => {
      const response = await request(`${server.url}/api/payments`, {
        dispatcher: dispatcherFor(provider()),
        headers: ['X-Tag', 'one', 'x-tag', 'two'],
      });
      await response.body.dump();

      expect(server.apiCalls[0]?.headers['x-tag']).toBe('one, two');
    });
  });

  describe('a cache shared by merchants with API headers of their own', () => {
    it("should send the provider option's API headers with the shared cache's token", async () => {
      const cache = createTokenCache(provider());
      const own = provider({ apiHeaders: { 'Ocp-Apim-Subscription-Key': 'subscription-key', 'Vipps-System-Name': 'pos-app' } });

      const response = await request(`${server.url}/api/payments`, { dispatcher: dispatcherFor(cache, { provider: own }) });
      await response.body.dump();

      const [call] = server.apiCalls;
      expect(call?.headers['vipps-system-name']).toBe('pos-app');
      expect(call?.headers['merchant-serial-number']).toBeUndefined();
      expect(call?.headers.authorization).toBe(`Bearer ${(await cache.getToken()).accessToken}`);
    });

    it('should refuse a provider for other credentials with a ConfigurationError', () => {
      const cache = createTokenCache(provider());

      expect(() => dispatcherFor(cache, { provider: provider({ cacheKey: 'test:other-credentials' }) })).toThrowError(
        expect.objectContaining({ code: 'X_CONFIGURATION_INVALID', issues: [expect.objectContaining({ path: 'provider' })] }),
      );
    });
  });

  describe("undici's fetch", () => {
    it('should authenticate a fetch sent through the composed dispatcher, and retry it when it has no body', async () => {
      const { cache, revoked } = await cacheWithRevokedToken();

      const response = await fetch(`${server.url}/api/payments`, {
        dispatcher: dispatcherFor(cache),
        headers: { 'Merchant-Serial-Number': '654321' },
      });

      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({ ok: true, path: '/api/payments', body: '' });
      expect(server.apiCalls).toHaveLength(2);
      expect(tokenOfCall(0)).toBe(revoked);
      expect(server.validTokens.has(tokenOfCall(1) ?? '')).toBe(true);
      expect(server.apiCalls[1]?.headers['merchant-serial-number']).toBe('654321');
      expect(server.apiCalls[1]?.headers['ocp-apim-subscription-key']).toBe('subscription-key');
    });

    it("should hand the 401 back for a fetch body, which undici's fetch dispatches as a one-shot stream", async () => {
      const { cache } = await cacheWithRevokedToken();

      const response = await fetch(`${server.url}/api/payments`, { dispatcher: dispatcherFor(cache), method: 'POST', body: 'fetched' });

      expect(response.status).toBe(401);
      await response.body?.cancel();
      expect(server.apiCalls.map((call) => call.body)).toEqual(['fetched']);
    });
  });

  describe('foreign origins', () => {
    it.each([
      ['another server', () => `${foreign.url}/api/payments`],
      ['the same port under another host name', () => `${server.url.replace('127.0.0.1', 'localhost')}/api/payments`],
    ])('should refuse a request to %s before sending anything', async (_shape, url) => {
      const error: unknown = await request(url(), { dispatcher: dispatcherFor(provider()), method: 'POST', body: 'secret' }).catch(
        (caught: unknown) => caught,
      );

      expect(error).toBeInstanceOf(ForeignOriginError);
      expect(isForeignOriginError(error)).toBe(true);
      expect(error).toMatchObject({ provider: 'test', expectedOrigin: server.url });
      expect(server.tokenRequests).toBe(0);
      expect(server.apiCalls).toHaveLength(0);
      expect(foreign.tokenRequests).toBe(0);
      expect(foreign.apiCalls).toHaveLength(0);
    });

    it("should pass a request to another origin through untouched with foreignOrigins: 'pass-through'", async () => {
      const dispatcher = dispatcherFor(provider(), { foreignOrigins: 'pass-through' });

      const response = await request(`${foreign.url}/api/other`, {
        dispatcher,
        method: 'POST',
        body: 'hello',
        headers: { 'x-own': 'kept' },
      });

      // The other server knows no token of ours: it answers 401, and no retry follows.
      expect(response.statusCode).toBe(401);
      await response.body.dump();
      expect(foreign.apiCalls).toHaveLength(1);
      expect(foreign.apiCalls[0]?.headers.authorization).toBeUndefined();
      expect(foreign.apiCalls[0]?.headers['ocp-apim-subscription-key']).toBeUndefined();
      expect(foreign.apiCalls[0]?.headers['x-own']).toBe('kept');
      expect(foreign.apiCalls[0]?.body).toBe('hello');
      expect(server.tokenRequests).toBe(0);
      expect(foreign.tokenRequests).toBe(0);

      const own = await request(`${server.url}/api/payments`, { dispatcher });
      await own.body.dump();
      expect(own.statusCode).toBe(200);
      expect(server.validTokens.has(tokenOfCall(0) ?? '')).toBe(true);
    });
  });

  describe('redirects', () => {
    const redirect = (status: number, location: string): string =>
      `${server.url}/api/redirect?status=${status}&location=${encodeURIComponent(location)}`;
    /** Nothing of ours: no token, no API header value, in any header. */
    const expectNothingOfOurs = (headers: Record<string, string | string[] | undefined>): void => {
      for (const value of Object.values(headers)) {
        for (const ours of [...Object.values(apiHeaders), ...server.validTokens]) expect(String(value)).not.toContain(ours);
      }
    };
    const statuses = [301, 302, 303, 307, 308];

    it.each(statuses)('should not let a redirect interceptor below it carry anything of ours to another origin (%i)', async (status) => {
      const dispatcher = dispatcherFor(provider(), {}, agent.compose(interceptors.redirect({ maxRedirections: 3 })));

      const response = await request(redirect(status, `${foreign.url}/api/landed`), { dispatcher, method: 'POST', body: 'x' });
      await response.body.dump();

      // The redirect interceptor below was told not to follow: the redirect comes back as it is.
      expect(response.statusCode).toBe(status);
      expect(foreign.apiCalls).toHaveLength(0);
      expect(server.apiCalls).toHaveLength(1);
    });

    it.each(statuses)('should refuse a %i to another origin with a ForeignOriginError when it follows redirects', async (status) => {
      const dispatcher = dispatcherFor(provider(), { maxRedirections: 3 });

      const error: unknown = await request(redirect(status, `${foreign.url}/api/landed`), { dispatcher }).catch(
        (caught: unknown) => caught,
      );

      expect(isForeignOriginError(error)).toBe(true);
      expect(error).toMatchObject({ provider: 'test', origin: foreign.url, expectedOrigin: server.url });
      expect(foreign.apiCalls).toHaveLength(0);
    });

    it.each([
      [301, 'POST', 'GET', ''],
      [302, 'POST', 'GET', ''],
      [303, 'PUT', 'GET', ''],
      [302, 'PUT', 'PUT', 'the-body'],
      [307, 'POST', 'POST', 'the-body'],
      [308, 'PUT', 'PUT', 'the-body'],
    ] as const)(
      'should follow a %i on the same origin with the token and API headers (%s, then %s) when asked to',
      async (status, method, followedMethod, body) => {
        const dispatcher = dispatcherFor(provider(), { maxRedirections: 3 });

        const response = await request(redirect(status, '/api/landed?step=2'), {
          dispatcher,
          method,
          body: 'the-body',
          headers: { 'content-type': 'text/plain', 'x-own': 'kept' },
        });

        expect(response.statusCode).toBe(200);
        expect(await response.body.json()).toEqual({ ok: true, path: '/api/landed?step=2', body });
        expect(server.apiCalls.map((call) => call.method)).toEqual([method, followedMethod]);
        const landed = server.apiCalls[1]!;
        expect(landed.headers.authorization).toBe(`Bearer ${tokenOfCall(0)}`);
        expect(landed.headers['ocp-apim-subscription-key']).toBe('subscription-key');
        expect(landed.headers['x-own']).toBe('kept');
        expect(server.tokenRequests).toBe(1);
      },
    );

    it('should hand a redirect back untouched by default, as undici does', async () => {
      const response = await request(redirect(302, '/api/landed'), { dispatcher: dispatcherFor(provider()) });
      await response.body.dump();

      expect(response.statusCode).toBe(302);
      expect(response.headers.location).toBe('/api/landed');
      expect(server.apiCalls).toHaveLength(1);
    });

    it("should stop after the request's own maxRedirections hops and hand the last redirect back", async () => {
      const loop = `${server.url}/api/redirect?status=302&location=`;
      // Per request, as undici's redirect interceptor reads it (undici's types leave it out).
      const perRequest = { maxRedirections: 2 } as object;

      const response = await request(loop, { dispatcher: dispatcherFor(provider(), { maxRedirections: 5 }), ...perRequest });
      await response.body.dump();

      expect(response.statusCode).toBe(302);
      expect(server.apiCalls).toHaveLength(3);
    });

    it("should let undici's redirect interceptor above it follow same-origin hops and refuse others", async () => {
      const dispatcher = dispatcherFor(provider()).compose(interceptors.redirect({ maxRedirections: 3 }));

      const followed = await request(redirect(307, '/api/landed'), { dispatcher, method: 'POST', body: 'kept' });
      const error: unknown = await request(redirect(307, `${foreign.url}/api/landed`), { dispatcher }).catch((caught: unknown) => caught);

      expect(followed.statusCode).toBe(200);
      expect(await followed.body.json()).toEqual({ ok: true, path: '/api/landed', body: 'kept' });
      expect(server.apiCalls[1]?.headers['ocp-apim-subscription-key']).toBe('subscription-key');
      expect(isForeignOriginError(error)).toBe(true);
      expect(foreign.apiCalls).toHaveLength(0);
    });

    it("should refuse undici's fetch a redirect to another origin", async () => {
      const error: unknown = await fetch(redirect(302, `${foreign.url}/api/landed`), { dispatcher: dispatcherFor(provider()) }).catch(
        (caught: unknown) => caught,
      );

      expect(error).toBeInstanceOf(TypeError);
      expect(isForeignOriginError((error as Error).cause)).toBe(true);
      expect(foreign.apiCalls).toHaveLength(0);
    });

    it("should follow a redirect to another origin with nothing of ours with foreignOrigins: 'pass-through'", async () => {
      const dispatcher = dispatcherFor(provider(), { foreignOrigins: 'pass-through', maxRedirections: 3 });

      const response = await request(redirect(307, `${foreign.url}/api/landed`), {
        dispatcher,
        method: 'POST',
        body: 'their-body',
        headers: { 'x-own': 'kept', cookie: 'session=ours' },
      });
      await response.body.dump();

      // The other server knows no token of ours: it answers 401, and no retry follows.
      expect(response.statusCode).toBe(401);
      expect(foreign.apiCalls).toHaveLength(1);
      const [landed] = foreign.apiCalls;
      expect(landed?.headers.authorization).toBeUndefined();
      expect(landed?.headers.cookie).toBeUndefined();
      expect(landed?.headers['x-own']).toBe('kept');
      expect(landed?.body).toBe('their-body');
      expectNothingOfOurs(landed?.headers ?? {});
    });
  });

  describe('retry after a 401', () => {
    it.each([
      ['no body', () => ({ method: 'GET' as const }), ''],
      ['a string', () => ({ method: 'POST' as const, body: '{"amount":1000}' }), '{"amount":1000}'],
      ['a Buffer', () => ({ method: 'POST' as const, body: Buffer.from('buffer-body') }), 'buffer-body'],
      ['a Uint8Array', () => ({ method: 'PUT' as const, body: new TextEncoder().encode('bytes-body') }), 'bytes-body'],
      ['an ArrayBuffer', () => ({ method: 'PUT' as const, body: new TextEncoder().encode('buffer-body').buffer }), 'buffer-body'],
      ['a DataView', () => ({ method: 'PUT' as const, body: new DataView(new TextEncoder().encode('xdata-body').buffer, 1) }), 'data-body'],
      ['a SharedArrayBuffer', () => ({ method: 'POST' as const, body: sharedBytes('shared-body') }), 'shared-body'],
      [
        'a Uint8Array on a SharedArrayBuffer',
        () => ({ method: 'POST' as const, body: new Uint8Array(sharedBytes('shared-view')) }),
        'shared-view',
      ],
      [
        'a DataView on a SharedArrayBuffer',
        () => ({ method: 'POST' as const, body: new DataView(sharedBytes('xshared-data'), 1) }),
        'shared-data',
      ],
    ] as Array<[string, () => Partial<Dispatcher.RequestOptions>, string]>)(
      'should invalidate the token, get a fresh one and send %s again',
      async (_shape, options, expectedBody) => {
        const { cache, revoked } = await cacheWithRevokedToken();

        const response = await request(`${server.url}/api/payments`, { dispatcher: dispatcherFor(cache), ...(options() as object) });

        expect(response.statusCode).toBe(200);
        expect(await response.body.json()).toEqual({ ok: true, path: '/api/payments', body: expectedBody });
        expect(server.apiCalls).toHaveLength(2);
        expect(server.tokenRequests).toBe(2);
        expect(tokenOfCall(0)).toBe(revoked);
        expect(tokenOfCall(1)).not.toBe(revoked);
        expect(server.validTokens.has(tokenOfCall(1) ?? '')).toBe(true);
        expect(server.apiCalls.map((call) => call.body)).toEqual([expectedBody, expectedBody]);
        expect(server.apiCalls[1]?.method).toBe(server.apiCalls[0]?.method);
        expect(server.apiCalls[1]?.headers['merchant-serial-number']).toBe('123456');
      },
    );

    it('should hand a 401 back without retrying when the body is a stream', async () => {
      const { cache, revoked } = await cacheWithRevokedToken();

      const response = await request(`${server.url}/api/payments`, {
        dispatcher: dispatcherFor(cache),
        method: 'POST',
        body: Readable.from([Buffer.from('one-'), Buffer.from('shot')]),
      });

      expect(response.statusCode).toBe(401);
      expect(await response.body.json()).toEqual({ error: 'invalid_token' });
      expect(server.apiCalls).toHaveLength(1);
      expect(server.apiCalls[0]?.body).toBe('one-shot');
      expect(tokenOfCall(0)).toBe(revoked);
      expect(server.tokenRequests).toBe(1);
    });

    it("should abort a 401's body and retry at once, without waiting for the body to end", async () => {
      const { cache, revoked } = await cacheWithRevokedToken();
      // The 401 sends its headers and the start of its body, then never ends it (undici would wait 300 s for it).
      server.unauthorizedBody = 'hang';

      const response = await request(`${server.url}/api/payments`, { dispatcher: dispatcherFor(cache), method: 'POST', body: 'again' });

      expect(response.statusCode).toBe(200);
      expect(await response.body.json()).toEqual({ ok: true, path: '/api/payments', body: 'again' });
      expect(tokenOfCall(0)).toBe(revoked);
      expect(server.validTokens.has(tokenOfCall(1) ?? '')).toBe(true);
    });

    it('should retry only once when the server keeps answering 401', async () => {
      const base = provider();
      // Every token the server issues is revoked at once, so every API call gets a 401.
      const revoking: TokenProvider = {
        ...base,
        async requestToken(context) {
          const token = await base.requestToken(context);
          server.validTokens.delete(token.accessToken);
          return token;
        },
      };

      const response = await request(`${server.url}/api/payments`, { dispatcher: dispatcherFor(revoking), method: 'POST', body: 'once' });

      expect(response.statusCode).toBe(401);
      expect(await response.body.json()).toEqual({ error: 'invalid_token' });
      expect(server.apiCalls).toHaveLength(2);
      expect(server.apiCalls.map((call) => call.body)).toEqual(['once', 'once']);
      expect(server.tokenRequests).toBeLessThanOrEqual(2);
      expect(tokenOfCall(1)).not.toBe(tokenOfCall(0));
    });

    it('should deliver a token failure during the retry as an error', async () => {
      const { cache } = await cacheWithRevokedToken();
      server.mode = 500;

      const error: unknown = await request(`${server.url}/api/payments`, { dispatcher: dispatcherFor(cache) }).catch(
        (caught: unknown) => caught,
      );

      expect(isTokenRequestError(error)).toBe(true);
      expect(error).toMatchObject({ status: 500 });
      expect(server.apiCalls).toHaveLength(1);
    });
  });

  describe('errors', () => {
    it('should reject with a TokenRequestError when there is no token and the server answers 500', async () => {
      server.mode = 500;

      const error: unknown = await request(`${server.url}/api/payments`, { dispatcher: dispatcherFor(provider()) }).catch(
        (caught: unknown) => caught,
      );

      expect(error).toBeInstanceOf(TokenRequestError);
      expect(isTokenRequestError(error)).toBe(true);
      expect(error).toMatchObject({ provider: 'test', status: 500, retryable: true });
      expect(server.tokenRequests).toBe(1);
      expect(server.apiCalls).toHaveLength(0);
    });

    it('should deliver an error from building the request instead of leaving the caller waiting', async () => {
      // An iterable whose entries are not pairs: reading it throws once the token has arrived.
      const headers = new Set([42]) as unknown as Iterable<[string, string]>;

      const error: unknown = await request(`${server.url}/api/payments`, { dispatcher: dispatcherFor(provider()), headers }).catch(
        (caught: unknown) => caught,
      );

      expect(error).toBeInstanceOf(TypeError);
      expect(server.tokenRequests).toBe(1);
      expect(server.apiCalls).toHaveLength(0);
    });

    it("should deliver the next dispatcher's error for an invalid header", async () => {
      const error: unknown = await request(`${server.url}/api/payments`, {
        dispatcher: dispatcherFor(provider()),
        headers: { 'x-bad': 'line\r\nbreak' },
      }).catch((caught: unknown) => caught);

      expect(error).toBeInstanceOf(Error);
      expect((error as Error).message).toMatch(/header/i);
      expect(server.apiCalls).toHaveLength(0);
    });

    it('should refuse a request without an origin (a Pool dispatched directly) with a ForeignOriginError', async () => {
      const pool = new Pool(server.url);
      try {
        const dispatcher = dispatcherFor(provider(), {}, pool);

        const error: unknown = await dispatcher.request({ path: '/api/payments', method: 'GET' }).catch((caught: unknown) => caught);

        expect(isForeignOriginError(error)).toBe(true);
        expect(error).toMatchObject({ provider: 'test', origin: 'null', expectedOrigin: server.url });
        expect(server.apiCalls).toHaveLength(0);
      } finally {
        await pool.close();
      }
    });

    it("should stop waiting for a token when the caller's signal aborts", async () => {
      server.mode = 'hang';
      const controller = new AbortController();
      const reason = new Error('caller gave up');

      const pending = request(`${server.url}/api/payments`, { dispatcher: dispatcherFor(provider()), signal: controller.signal });
      await expect.poll(() => server.tokenRequests).toBe(1);
      controller.abort(reason);

      await expect(pending).rejects.toBe(reason);
      expect(server.apiCalls).toHaveLength(0);
    });
  });

  describe('handler callbacks', () => {
    it('should deliver a large response body intact', async () => {
      const body = 'x'.repeat(256 * 1024);

      const response = await request(`${server.url}/api/large`, { dispatcher: dispatcherFor(provider()), method: 'POST', body });

      expect(response.statusCode).toBe(200);
      expect(response.headers['content-type']).toBe('application/json');
      expect(await response.body.json()).toEqual({ ok: true, path: '/api/large', body });
    });

    it("should forward every callback to the caller's handler, and hide the 401 of a retried request", async () => {
      const { cache } = await cacheWithRevokedToken();
      const dispatcher = dispatcherFor(cache);
      const seen: string[] = [];
      const chunks: Buffer[] = [];
      let statusCode = 0;

      await new Promise<void>((resolve, reject) => {
        dispatcher.dispatch(
          { origin: server.url, path: '/api/handler', method: 'POST', body: 'payload' },
          {
            onRequestStart() {
              seen.push('start');
            },
            onResponseStart(_controller, status) {
              seen.push(`response ${status}`);
              statusCode = status;
            },
            onResponseData(_controller, chunk) {
              chunks.push(chunk);
            },
            onResponseEnd() {
              seen.push('end');
              resolve();
            },
            onResponseError(_controller, error) {
              reject(error);
            },
          },
        );
      });

      expect(statusCode).toBe(200);
      expect(seen.filter((event) => event !== 'start')).toEqual(['response 200', 'end']);
      expect(seen).toContain('start');
      expect(JSON.parse(Buffer.concat(chunks).toString('utf8'))).toEqual({ ok: true, path: '/api/handler', body: 'payload' });
      expect(server.apiCalls).toHaveLength(2);
    });
  });
});
