import { Readable } from 'node:stream';
import { inspect } from 'node:util';
import { apiHeaders, sharedBytes, startTestTokenServer, type TestTokenServer, testProvider } from '@x/test-support/token-server';
import * as undici from 'undici';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { type AuthFetchOptions, createAuthFetch } from './bearer-fetch.js';
import { ForeignOriginError, isConfigurationError, isForeignOriginError, isTokenRequestError, TokenRequestError } from './errors.js';
import { createTokenCache, type TokenCache } from './token-cache.js';
import type { TokenProvider } from './token-provider.js';

/** Node's global fetch and undici 7's fetch, each with the classes that belong to it. */
const implementations = [
  {
    name: "Node's global fetch",
    fetch: undefined,
    Request: globalThis.Request,
    Headers: globalThis.Headers,
    FormData: globalThis.FormData,
  },
  {
    name: "undici's fetch",
    fetch: undici.fetch as unknown as typeof globalThis.fetch,
    Request: undici.Request as unknown as typeof globalThis.Request,
    Headers: undici.Headers as unknown as typeof globalThis.Headers,
    FormData: undici.FormData as unknown as typeof globalThis.FormData,
  },
] as const;

describe.each(implementations)('createAuthFetch with $name', (implementation) => {
  let server: TestTokenServer;
  let foreign: TestTokenServer;

  beforeEach(async () => {
    server = await startTestTokenServer();
    foreign = await startTestTokenServer();
  });

  afterEach(async () => {
    await server.close();
    await foreign.close();
  });

  const options = (): AuthFetchOptions => (implementation.fetch === undefined ? {} : { fetch: implementation.fetch });
  const provider = (overrides: Partial<TokenProvider> = {}): TokenProvider => testProvider(server, { apiHeaders, ...overrides });
  /** The server's token for the `index`-th API call, from the `Authorization` header it received. */
  const tokenOfCall = (index: number): string | undefined => /^Bearer (.+)$/.exec(server.apiCalls[index]?.headers.authorization ?? '')?.[1];

  /** A cache already holding a token that the server has since revoked, so the next call gets a 401. */
  const cacheWithRevokedToken = async (): Promise<{ cache: TokenCache; revoked: string }> => {
    const cache = createTokenCache(provider(), options());
    const { accessToken } = await cache.getToken();
    server.validTokens.delete(accessToken);
    return { cache, revoked: accessToken };
  };

  describe('headers', () => {
    it('should add the bearer token and the provider API headers', async () => {
      const authFetch = createAuthFetch(provider(), options());

      const response = await authFetch('/api/payments');

      expect(response.status).toBe(200);
      expect(server.apiCalls).toHaveLength(1);
      const [call] = server.apiCalls;
      expect(call?.headers.authorization).toBe(`Bearer ${[...server.validTokens][0]}`);
      expect(call?.headers['ocp-apim-subscription-key']).toBe('subscription-key');
      expect(call?.headers['merchant-serial-number']).toBe('123456');
    });

    it.each([
      [
        'a Headers instance',
        () => new implementation.Headers({ 'Merchant-Serial-Number': '654321', 'X-Request-Id': 'abc', Authorization: 'Bearer forged' }),
      ],
      [
        'an array of pairs',
        () =>
          [
            ['Merchant-Serial-Number', '654321'],
            ['X-Request-Id', 'abc'],
            ['Authorization', 'Bearer forged'],
          ] as [string, string][],
      ],
      ['a plain object', () => ({ 'merchant-serial-number': '654321', 'x-request-id': 'abc', authorization: 'Bearer forged' })],
    ])('should let headers the caller set as %s win, except Authorization', async (_shape, headers) => {
      const authFetch = createAuthFetch(provider(), options());

      await authFetch('/api/payments', { headers: headers() });

      const [call] = server.apiCalls;
      expect(call?.headers['merchant-serial-number']).toBe('654321');
      expect(call?.headers['x-request-id']).toBe('abc');
      expect(call?.headers['ocp-apim-subscription-key']).toBe('subscription-key');
      expect(call?.headers.authorization).not.toBe('Bearer forged');
      expect(server.validTokens.has(tokenOfCall(0) ?? '')).toBe(true);
    });

    it("should keep a Request's own headers, and let init's headers replace them as fetch does", async () => {
      const authFetch = createAuthFetch(provider(), options());
      const request = new implementation.Request(`${server.url}/api/payments`, {
        headers: { 'Merchant-Serial-Number': '111111', Authorization: 'Bearer forged' },
      });

      await authFetch(request);
      await authFetch(new implementation.Request(`${server.url}/api/payments`, { headers: { 'X-Dropped': 'yes' } }), {
        headers: { 'X-Kept': 'yes' },
      });

      expect(server.apiCalls[0]?.headers['merchant-serial-number']).toBe('111111');
      expect(server.apiCalls[0]?.headers.authorization).toBe(`Bearer ${tokenOfCall(0)}`);
      expect(server.validTokens.has(tokenOfCall(0) ?? '')).toBe(true);
      expect(server.apiCalls[1]?.headers['x-dropped']).toBeUndefined();
      expect(server.apiCalls[1]?.headers['x-kept']).toBe('yes');
      expect(server.apiCalls[1]?.headers['merchant-serial-number']).toBe('123456');
    });
  });

  describe('inputs', () => {
    it.each([
      ['a relative path', () => '/api/one?x=1'],
      ['an absolute string on the same origin', () => `${server.url}/api/one?x=1`],
      ['a URL', () => new URL('/api/one?x=1', server.url)],
      ["a Request of Node's fetch", () => new globalThis.Request(`${server.url}/api/one?x=1`)],
      ["a Request of undici's fetch", () => new undici.Request(`${server.url}/api/one?x=1`)],
    ])('should send %s to the provider with a token', async (_shape, input) => {
      const authFetch = createAuthFetch(provider(), options());

      const response = await authFetch(input());

      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({ ok: true, path: '/api/one?x=1', body: '' });
      expect(server.apiCalls.map((call) => call.path)).toEqual(['/api/one?x=1']);
      expect(server.validTokens.has(tokenOfCall(0) ?? '')).toBe(true);
    });

    it('should resolve a relative URL against a baseUrl with a path', async () => {
      const authFetch = createAuthFetch(provider({ baseUrl: `${server.url}/api/v1/` }), options());

      await authFetch('payments/imp_1');

      expect(server.apiCalls.map((call) => call.path)).toEqual(['/api/v1/payments/imp_1']);
    });

    it("should send a Request's method and body", async () => {
      const authFetch = createAuthFetch(provider(), options());

      const response = await authFetch(
        new implementation.Request(`${server.url}/api/payments`, {
          method: 'PUT',
          body: '{"amount":1000}',
          headers: { 'content-type': 'application/json' },
        }),
      );

      expect(response.status).toBe(200);
      expect(server.apiCalls).toMatchObject([{ method: 'PUT', body: '{"amount":1000}', headers: { 'content-type': 'application/json' } }]);
    });
  });

  describe('foreign origins', () => {
    const otherOrigins = (): Array<[string, () => string | URL | Request]> => [
      ['an absolute URL to another server', () => `${foreign.url}/api/payments`],
      ['the same port under another host name', () => `${server.url.replace('127.0.0.1', 'localhost')}/api/payments`],
      ['a URL object to another server', () => new URL('/api/payments', foreign.url)],
      ['a Request to another server', () => new implementation.Request(`${foreign.url}/api/payments`, { method: 'POST', body: 'secret' })],
    ];

    it('should name only origins in the error, never the token or the path', async () => {
      const authFetch = createAuthFetch(provider(), options());
      await authFetch('/api/warm-up');
      const [token] = [...server.validTokens];

      const error: unknown = await authFetch(`${foreign.url}/api/secret-path?key=value`).catch((caught: unknown) => caught);

      expect(isForeignOriginError(error)).toBe(true);
      for (const text of [JSON.stringify(error), inspect(error), (error as Error).message]) {
        expect(text).toContain(foreign.url);
        expect(text).not.toContain(token);
        expect(text).not.toContain('secret-path');
      }
      expect(foreign.apiCalls).toHaveLength(0);
    });

    it.each(otherOrigins())('should refuse %s before sending anything', async (_shape, input) => {
      const authFetch = createAuthFetch(provider(), options());
      const target = input();

      const error: unknown = await authFetch(target).catch((caught: unknown) => caught);

      expect(error).toBeInstanceOf(ForeignOriginError);
      expect(isForeignOriginError(error)).toBe(true);
      expect(error).toMatchObject({ provider: 'test', expectedOrigin: server.url });
      expect(server.tokenRequests).toBe(0);
      expect(server.apiCalls).toHaveLength(0);
      expect(foreign.tokenRequests).toBe(0);
      expect(foreign.apiCalls).toHaveLength(0);
      if (typeof target === 'object' && 'bodyUsed' in target) expect(target.bodyUsed).toBe(false);
    });
  });

  describe('retry after a 401', () => {
    const form = (): FormData => {
      const body = new implementation.FormData();
      body.append('merchant_uid', 'order-1');
      return body;
    };

    it.each([
      ['no body', () => ({ method: 'GET' }), ''],
      ['a string', () => ({ method: 'POST', body: '{"amount":1000}' }), '{"amount":1000}'],
      ['bytes', () => ({ method: 'POST', body: new TextEncoder().encode('bytes-body') }), 'bytes-body'],
      ['an ArrayBuffer', () => ({ method: 'POST', body: new TextEncoder().encode('buffer-body').buffer }), 'buffer-body'],
      ['URLSearchParams', () => ({ method: 'POST', body: new URLSearchParams({ amount: '1000' }) }), 'amount=1000'],
      ['a Blob', () => ({ method: 'POST', body: new Blob(['blob-body']) }), 'blob-body'],
      ['a SharedArrayBuffer', () => ({ method: 'POST', body: sharedBytes('shared-body') }), 'shared-body'],
      ['a Uint8Array on a SharedArrayBuffer', () => ({ method: 'POST', body: new Uint8Array(sharedBytes('shared-view')) }), 'shared-view'],
      ['a DataView on a SharedArrayBuffer', () => ({ method: 'POST', body: new DataView(sharedBytes('xshared-data'), 1) }), 'shared-data'],
    ] as Array<[string, () => RequestInit, string]>)(
      'should invalidate the token, get a fresh one and send %s again',
      async (_shape, init, expectedBody) => {
        const { cache, revoked } = await cacheWithRevokedToken();
        const authFetch = createAuthFetch(cache, options());

        const response = await authFetch('/api/payments', init());

        expect(response.status).toBe(200);
        expect(server.apiCalls).toHaveLength(2);
        expect(server.tokenRequests).toBe(2);
        expect(tokenOfCall(0)).toBe(revoked);
        expect(tokenOfCall(1)).not.toBe(revoked);
        expect(server.validTokens.has(tokenOfCall(1) ?? '')).toBe(true);
        expect(server.apiCalls.map((call) => call.body)).toEqual([expectedBody, expectedBody]);
        expect(server.apiCalls[1]?.method).toBe(server.apiCalls[0]?.method);
        expect((await cache.getToken()).accessToken).toBe(tokenOfCall(1));
      },
    );

    it('should send bytes again where SharedArrayBuffer is not defined', async () => {
      const { cache } = await cacheWithRevokedToken();
      const authFetch = createAuthFetch(cache, options());
      // As on a page without cross-origin isolation: the global is absent, so naming it throws a ReferenceError.
      vi.stubGlobal('SharedArrayBuffer', undefined);
      try {
        const response = await authFetch('/api/payments', { method: 'POST', body: new TextEncoder().encode('bytes-body') });

        expect(response.status).toBe(200);
        expect(server.apiCalls.map((call) => call.body)).toEqual(['bytes-body', 'bytes-body']);
      } finally {
        vi.unstubAllGlobals();
      }
    });

    it('should send FormData again', async () => {
      const { cache, revoked } = await cacheWithRevokedToken();
      const authFetch = createAuthFetch(cache, options());

      const response = await authFetch('/api/payments', { method: 'POST', body: form() });

      expect(response.status).toBe(200);
      expect(server.apiCalls).toHaveLength(2);
      expect(tokenOfCall(1)).not.toBe(revoked);
      for (const call of server.apiCalls) {
        expect(call.headers['content-type']).toMatch(/^multipart\/form-data; boundary=/);
        expect(call.body).toMatch(/name="merchant_uid"\r\n\r\norder-1\r\n/);
      }
    });

    it("should send a Request's body again", async () => {
      const { cache, revoked } = await cacheWithRevokedToken();
      const authFetch = createAuthFetch(cache, options());

      const response = await authFetch(new implementation.Request(`${server.url}/api/payments`, { method: 'POST', body: 'request-body' }));

      expect(response.status).toBe(200);
      expect(server.apiCalls.map((call) => [call.method, call.body])).toEqual([
        ['POST', 'request-body'],
        ['POST', 'request-body'],
      ]);
      expect(tokenOfCall(0)).toBe(revoked);
      expect(tokenOfCall(1)).not.toBe(revoked);
    });

    it("should send a Request's streamed body again, since it is read once into bytes", async () => {
      const { cache } = await cacheWithRevokedToken();
      const authFetch = createAuthFetch(cache, options());
      const stream = Readable.toWeb(Readable.from([Buffer.from('streamed-'), Buffer.from('request')])) as ReadableStream<Uint8Array>;
      const request = new implementation.Request(`${server.url}/api/payments`, {
        method: 'POST',
        body: stream,
        duplex: 'half',
      } as RequestInit);

      const response = await authFetch(request);

      expect(response.status).toBe(200);
      expect(server.apiCalls.map((call) => call.body)).toEqual(['streamed-request', 'streamed-request']);
    });

    it('should hand a 401 back without retrying when the body is a one-shot stream', async () => {
      const { cache, revoked } = await cacheWithRevokedToken();
      const authFetch = createAuthFetch(cache, options());
      const body = new ReadableStream<Uint8Array>({
        start(controller) {
          controller.enqueue(new TextEncoder().encode('one-shot'));
          controller.close();
        },
      });

      const response = await authFetch('/api/payments', { method: 'POST', body, duplex: 'half' } as RequestInit);

      expect(response.status).toBe(401);
      expect(await response.json()).toEqual({ error: 'invalid_token' });
      expect(server.apiCalls).toHaveLength(1);
      expect(server.apiCalls[0]?.body).toBe('one-shot');
      expect(tokenOfCall(0)).toBe(revoked);
      expect(server.tokenRequests).toBe(1);
    });

    it("should cancel a 401's body and retry at once, without waiting for the body to end", async () => {
      const { cache, revoked } = await cacheWithRevokedToken();
      const authFetch = createAuthFetch(cache, options());
      // The 401 sends its headers and the start of its body, then never ends it.
      server.unauthorizedBody = 'hang';

      const response = await authFetch('/api/payments', { method: 'POST', body: 'again' });

      expect(response.status).toBe(200);
      expect(server.apiCalls.map((call) => call.body)).toEqual(['again', 'again']);
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
      const authFetch = createAuthFetch(revoking, options());

      const response = await authFetch('/api/payments', { method: 'POST', body: 'once' });

      expect(response.status).toBe(401);
      expect(await response.json()).toEqual({ error: 'invalid_token' });
      expect(server.apiCalls).toHaveLength(2);
      expect(server.apiCalls.map((call) => call.body)).toEqual(['once', 'once']);
      expect(server.tokenRequests).toBeLessThanOrEqual(2);
      expect(tokenOfCall(1)).not.toBe(tokenOfCall(0));
    });

    it('should not retry a response other than 401', async () => {
      const authFetch = createAuthFetch(provider(), options());

      const response = await authFetch('/not-api');

      expect(response.status).toBe(404);
      expect(server.tokenRequests).toBe(1);
    });
  });

  describe('redirects', () => {
    const redirect = (status: number, location: string): string =>
      `/api/redirect?status=${status}&location=${encodeURIComponent(location)}`;
    it.each([301, 302, 303, 307, 308])(
      'should refuse a %i to another origin with a ForeignOriginError, sending that origin nothing',
      async (status) => {
        const authFetch = createAuthFetch(provider(), options());

        const error: unknown = await authFetch(redirect(status, `${foreign.url}/api/landed`), {
          method: 'POST',
          body: 'secret-body',
        }).catch((caught: unknown) => caught);

        expect(isForeignOriginError(error)).toBe(true);
        expect(error).toMatchObject({ provider: 'test', origin: foreign.url, expectedOrigin: server.url });
        expect(foreign.apiCalls).toHaveLength(0);
        expect(server.apiCalls).toHaveLength(1);
      },
    );

    it('should refuse a redirect to the same port under another host name', async () => {
      const authFetch = createAuthFetch(provider(), options());
      const elsewhere = `${server.url.replace('127.0.0.1', 'localhost')}/api/landed`;

      const error: unknown = await authFetch(redirect(307, elsewhere)).catch((caught: unknown) => caught);

      expect(isForeignOriginError(error)).toBe(true);
      expect(server.apiCalls).toHaveLength(1);
    });

    it.each([
      [301, 'POST', 'GET', ''],
      [302, 'POST', 'GET', ''],
      [303, 'PUT', 'GET', ''],
      [302, 'PUT', 'PUT', 'the-body'],
      [307, 'POST', 'POST', 'the-body'],
      [308, 'PUT', 'PUT', 'the-body'],
    ])(
      'should follow a %i on the same origin with the token and API headers (%s, then %s)',
      async (status, method, followedMethod, body) => {
        const authFetch = createAuthFetch(provider(), options());

        const response = await authFetch(redirect(status, '/api/landed?step=2'), {
          method,
          body: 'the-body',
          headers: { 'content-type': 'text/plain', 'x-own': 'kept' },
        });

        expect(response.status).toBe(200);
        expect(await response.json()).toEqual({ ok: true, path: '/api/landed?step=2', body });
        expect(server.apiCalls.map((call) => call.method)).toEqual([method, followedMethod]);
        const landed = server.apiCalls[1]!;
        expect(landed.headers.authorization).toBe(`Bearer ${tokenOfCall(0)}`);
        expect(landed.headers['ocp-apim-subscription-key']).toBe('subscription-key');
        expect(landed.headers['x-own']).toBe('kept');
        // A redirect that drops the body drops the headers that describe it, as fetch does.
        expect(landed.headers['content-type']).toBe(body === '' ? undefined : 'text/plain');
        expect(server.tokenRequests).toBe(1);
      },
    );

    it('should follow a chain of same-origin redirects given as absolute URLs', async () => {
      const authFetch = createAuthFetch(provider(), options());
      const last = `${server.url}/api/landed`;

      const response = await authFetch(redirect(302, `${server.url}${redirect(307, last)}`));

      expect(response.status).toBe(200);
      expect(server.apiCalls.map((call) => call.path)).toEqual([
        redirect(302, `${server.url}${redirect(307, last)}`),
        redirect(307, last),
        '/api/landed',
      ]);
      expect(server.apiCalls.every((call) => call.headers['ocp-apim-subscription-key'] === 'subscription-key')).toBe(true);
    });

    it('should refuse a same-origin redirect that leads on to another origin, after following the first', async () => {
      const authFetch = createAuthFetch(provider(), options());

      const error: unknown = await authFetch(redirect(302, redirect(302, `${foreign.url}/api/landed`))).catch((caught: unknown) => caught);

      expect(isForeignOriginError(error)).toBe(true);
      expect(server.apiCalls).toHaveLength(2);
      expect(foreign.apiCalls).toHaveLength(0);
    });

    it("should hand a redirect back untouched when the caller asks for redirect: 'manual'", async () => {
      const authFetch = createAuthFetch(provider(), options());

      const response = await authFetch(redirect(302, `${foreign.url}/api/landed`), { redirect: 'manual' });

      expect(response.status).toBe(302);
      expect(response.headers.get('location')).toBe(`${foreign.url}/api/landed`);
      expect(foreign.apiCalls).toHaveLength(0);
      expect(server.apiCalls).toHaveLength(1);
    });

    it("should reject a redirect when the caller asks for redirect: 'error', following nothing", async () => {
      const authFetch = createAuthFetch(provider(), options());

      await expect(authFetch(redirect(302, '/api/landed'), { redirect: 'error' })).rejects.toThrow(TypeError);
      expect(server.apiCalls).toHaveLength(1);
    });

    it("should follow a Request's redirects by the same rule", async () => {
      const authFetch = createAuthFetch(provider(), options());

      const error: unknown = await authFetch(
        new implementation.Request(`${server.url}${redirect(307, `${foreign.url}/api/landed`)}`),
      ).catch((caught: unknown) => caught);
      const followed = await authFetch(new implementation.Request(`${server.url}${redirect(307, '/api/landed')}`));

      expect(isForeignOriginError(error)).toBe(true);
      expect(followed.status).toBe(200);
      expect(foreign.apiCalls).toHaveLength(0);
    });

    it('should give up after 20 redirects as fetch does', async () => {
      const authFetch = createAuthFetch(provider(), options());
      // An empty Location is the URL itself: a loop.
      const loop = '/api/redirect?status=302&location=';

      const error: unknown = await authFetch(loop).catch((caught: unknown) => caught);

      expect(error).toBeInstanceOf(TypeError);
      expect(server.apiCalls).toHaveLength(21);
    });
  });

  describe('a cache shared by merchants with API headers of their own', () => {
    it("should send the provider option's API headers with the shared cache's token", async () => {
      const cache = createTokenCache(provider(), options());
      const own = provider({ apiHeaders: { 'Ocp-Apim-Subscription-Key': 'subscription-key', 'Vipps-System-Name': 'pos-app' } });
      const authFetch = createAuthFetch(cache, { ...options(), provider: own });

      await authFetch('/api/payments');

      const [call] = server.apiCalls;
      expect(call?.headers['vipps-system-name']).toBe('pos-app');
      expect(call?.headers['merchant-serial-number']).toBeUndefined();
      expect(call?.headers.authorization).toBe(`Bearer ${(await cache.getToken()).accessToken}`);
    });

    it('should refuse a provider for other credentials with a ConfigurationError', () => {
      const cache = createTokenCache(provider(), options());

      const error: unknown = (() => {
        try {
          createAuthFetch(cache, { ...options(), provider: provider({ cacheKey: 'test:other-credentials' }) });
        } catch (caught) {
          return caught;
        }
        return undefined;
      })();

      expect(isConfigurationError(error)).toBe(true);
      expect(error).toMatchObject({ provider: 'test', issues: [{ path: 'provider' }] });
    });
  });

  describe('configuration', () => {
    it.each([
      ['not a URL', 'api.example.test', 'must be an absolute URL'],
      ['not http(s)', 'data:text/plain,hello', 'must be an http: or https: URL'],
    ])('should throw a ConfigurationError when baseUrl is %s', (_case, baseUrl, message) => {
      const error: unknown = (() => {
        try {
          createAuthFetch(provider({ baseUrl }), options());
        } catch (caught) {
          return caught;
        }
        return undefined;
      })();

      expect(isConfigurationError(error)).toBe(true);
      expect(error).toMatchObject({ provider: 'test', issues: [{ path: 'baseUrl', message }] });
    });
  });

  describe('token failures', () => {
    it('should reject with a TokenRequestError when there is no token and the server answers 500', async () => {
      server.mode = 500;
      const authFetch = createAuthFetch(provider(), options());

      const error: unknown = await authFetch('/api/payments').catch((caught: unknown) => caught);

      expect(error).toBeInstanceOf(TokenRequestError);
      expect(isTokenRequestError(error)).toBe(true);
      expect(error).toMatchObject({ provider: 'test', status: 500, retryable: true });
      expect(server.tokenRequests).toBe(1);
      expect(server.apiCalls).toHaveLength(0);
    });
  });

  describe('abort', () => {
    it("should stop waiting for a token when init's signal aborts", async () => {
      server.mode = 'hang';
      const authFetch = createAuthFetch(provider(), options());
      const controller = new AbortController();
      const reason = new Error('caller gave up');

      const pending = authFetch('/api/payments', { signal: controller.signal });
      await expect.poll(() => server.tokenRequests).toBe(1);
      controller.abort(reason);

      await expect(pending).rejects.toBe(reason);
      expect(server.apiCalls).toHaveLength(0);
    });

    it("should stop waiting for a token when a Request's signal aborts", async () => {
      server.mode = 'hang';
      const authFetch = createAuthFetch(provider(), options());
      const controller = new AbortController();
      const reason = new Error('caller gave up');

      const pending = authFetch(new implementation.Request(`${server.url}/api/payments`, { signal: controller.signal }));
      await expect.poll(() => server.tokenRequests).toBe(1);
      controller.abort(reason);

      await expect(pending).rejects.toBe(reason);
      expect(server.apiCalls).toHaveLength(0);
    });

    it('should reject at once when the signal is already aborted', async () => {
      const authFetch = createAuthFetch(provider(), options());
      const reason = new Error('already aborted');

      await expect(authFetch('/api/payments', { signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
      expect(server.apiCalls).toHaveLength(0);
    });
  });
});
