import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { inspect } from 'node:util';
import { createTokenCache, isTokenRequestError, isTokenResponseError, type TokenEvent, type TokenRequestContext } from '@x/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createVippsProvider, isVippsTokenRequestError, type VippsProviderSettings } from './index.js';
import { createVippsEmulator, type VippsEmulator, vippsEmulatorDefaultMerchant } from './testing/index.js';

/** Headers Node's fetch adds to every request by itself. */
const transportHeaders = new Set([
  'host',
  'connection',
  'content-length',
  'accept',
  'accept-encoding',
  'accept-language',
  'sec-fetch-mode',
  'user-agent',
]);

const merchant = {
  clientId: vippsEmulatorDefaultMerchant.clientId,
  clientSecret: vippsEmulatorDefaultMerchant.clientSecret,
  subscriptionKey: vippsEmulatorDefaultMerchant.subscriptionKey,
};

let emulator: VippsEmulator;
let clock: number;

function context(overrides: Partial<TokenRequestContext> = {}): TokenRequestContext {
  return { signal: new AbortController().signal, fetch: globalThis.fetch, now: () => clock, ...overrides };
}

function settings(overrides: Partial<VippsProviderSettings> = {}): VippsProviderSettings {
  return { ...merchant, baseUrl: emulator.url, ...overrides };
}

async function failure(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

function expectNoSecret(value: unknown, secrets: readonly string[]): void {
  const texts = [
    value instanceof Error ? value.message : '',
    JSON.stringify(value),
    inspect(value, { depth: 10 }),
    inspect(value, { showHidden: true, depth: 10 }),
  ];
  for (const text of texts) for (const secret of secrets) expect(text).not.toContain(secret);
}

beforeEach(async () => {
  clock = 1_700_000_000_000;
  emulator = await createVippsEmulator({ now: () => clock });
});

afterEach(async () => {
  await emulator.close();
});

describe('createVippsProvider token request', () => {
  it('should POST to /accesstoken/get with no body and exactly the three credential headers', async () => {
    await createVippsProvider(settings()).requestToken(context());
    expect(emulator.counters.tokenRequests).toBe(1);
    const [seen] = emulator.seen('accesstoken');
    expect(seen?.method).toBe('POST');
    expect(seen?.path).toBe('/accesstoken/get');
    expect(seen?.bodyLength).toBe(0);
    expect(seen?.headers['content-type']).toBeUndefined();
    const own = Object.fromEntries(Object.entries(seen?.headers ?? {}).filter(([name]) => !transportHeaders.has(name)));
    expect(own).toEqual({
      client_id: merchant.clientId,
      client_secret: merchant.clientSecret,
      'ocp-apim-subscription-key': merchant.subscriptionKey,
    });
  });

  it('should add Merchant-Serial-Number and the four Vipps-System-* headers when set', async () => {
    await createVippsProvider(
      settings({
        merchantSerialNumber: '123456',
        systemName: 'acme',
        systemVersion: '3.1.2',
        pluginName: 'acme-webshop',
        pluginVersion: '4.5.6',
      }),
    ).requestToken(context());
    const own = Object.fromEntries(
      Object.entries(emulator.seen('accesstoken')[0]?.headers ?? {}).filter(([name]) => !transportHeaders.has(name)),
    );
    expect(own).toEqual({
      client_id: merchant.clientId,
      client_secret: merchant.clientSecret,
      'ocp-apim-subscription-key': merchant.subscriptionKey,
      'merchant-serial-number': '123456',
      'vipps-system-name': 'acme',
      'vipps-system-version': '3.1.2',
      'vipps-system-plugin-name': 'acme-webshop',
      'vipps-system-plugin-version': '4.5.6',
    });
  });

  it('should parse the string-typed numbers and count expiry from when the response arrived', async () => {
    const token = await createVippsProvider(settings()).requestToken(context());
    expect(token.accessToken).toMatch(/^eyJ/);
    expect(token.expiresAt).toBe(clock + 3_600_000);
    expect(token.diagnostics).toMatchObject({
      tokenEndpoint: 'accesstoken',
      expiresInSeconds: 3600,
      clockSkewMs: 0,
      notBeforeToExpirySeconds: 3600,
    });
  });

  it.each([
    ['test', 3600],
    ['production', 86_400],
    ['a short-lived', 900],
  ])('should handle %s token lifetime (%i s)', async (_, seconds) => {
    emulator.tokenLifetimeMs = seconds * 1000;
    const token = await createVippsProvider(settings()).requestToken(context());
    expect(token.expiresAt - clock).toBe(seconds * 1000);
  });

  it('should ignore a skewed gateway clock for expiry and report the skew', async () => {
    emulator.setClockOffset(9 * 3_600_000);
    const ahead = await createVippsProvider(settings()).requestToken(context());
    expect(ahead.expiresAt).toBe(clock + 3_600_000);
    expect(ahead.diagnostics?.clockSkewMs).toBe(9 * 3_600_000);
    emulator.setClockOffset(-120_000);
    const behind = await createVippsProvider(settings()).requestToken(context());
    expect(behind.expiresAt).toBe(clock + 3_600_000);
    expect(behind.diagnostics?.clockSkewMs).toBe(-120_000);
  });

  it('should accept token_type in any case and numbers sent as numbers', async () => {
    emulator.fault({ kind: 'body', count: 1, body: { access_token: 'eyJ.a.b', token_type: 'bearer', expires_in: 900 } });
    const token = await createVippsProvider(settings()).requestToken(context());
    expect(token.expiresAt).toBe(clock + 900_000);
    expect(token.diagnostics).not.toHaveProperty('clockSkewMs');
  });

  it.each([
    ['expires_in', { access_token: 'eyJ.a.b', token_type: 'Bearer', expires_in: 'soon' }],
    ['expires_in', { access_token: 'eyJ.a.b', token_type: 'Bearer', expires_in: '0' }],
    ['expires_in', { access_token: 'eyJ.a.b', token_type: 'Bearer' }],
    ['token_type', { access_token: 'eyJ.a.b', token_type: 'MAC', expires_in: '3600' }],
    ['access_token', { access_token: '', token_type: 'Bearer', expires_in: '3600' }],
    ['expires_on', { access_token: 'eyJ.a.b', token_type: 'Bearer', expires_in: '3600', expires_on: 'tomorrow' }],
  ])('should reject a body with a bad %s as a TokenResponseError naming the field', async (field, body) => {
    emulator.fault({ kind: 'body', body });
    const error = await failure(createVippsProvider(settings()).requestToken(context()));
    expect(isTokenResponseError(error)).toBe(true);
    if (!isTokenResponseError(error)) return;
    expect(error.field).toBe(field);
    expect(error.message).toContain(field);
    expect(error.provider).toBe('vipps');
    expect(error.message).not.toContain('eyJ.a.b');
  });

  it.each([
    ['malformed', { kind: 'malformed' } as const, 'malformed or truncated JSON'],
    ['HTML with 200', { kind: 'html', status: 200 } as const, 'HTML'],
  ])('should report a %s body as a TokenResponseError', async (_, fault, text) => {
    emulator.fault(fault);
    const error = await failure(createVippsProvider(settings()).requestToken(context()));
    expect(isTokenResponseError(error)).toBe(true);
    expect((error as Error).message).toContain(text);
  });
});

describe('createVippsProvider errors', () => {
  const secrets = [merchant.clientSecret, merchant.subscriptionKey, 'wrong-secret-value', 'wrong-key-value'];

  it('should report a wrong secret as rejected, not retryable, with the gateway error and no secret', async () => {
    const error = await failure(createVippsProvider(settings({ clientSecret: 'wrong-secret-value' })).requestToken(context()));
    expect(isTokenRequestError(error)).toBe(true);
    if (!isTokenRequestError(error)) return;
    expect(error).toMatchObject({ reason: 'rejected', retryable: false, status: 401, providerCode: 'invalid_client', provider: 'vipps' });
    expect(error.providerMessage).toMatch(/^AADSTS7000215: Invalid client secret provided\./);
    expect(error.message).toContain('401');
    expect(error.message).toContain(`${emulator.url}/accesstoken/get`);
    expectNoSecret(error, secrets);
  });

  it('should say the identity platform refused wrong client credentials, and name clientId and clientSecret', async () => {
    for (const wrong of [{ clientSecret: 'wrong-secret-value' }, { clientId: 'not-registered' }]) {
      const error = await failure(createVippsProvider(settings(wrong)).requestToken(context()));
      expect(isVippsTokenRequestError(error)).toBe(true);
      expect(error).toMatchObject({ refusedBy: 'identity-platform', reason: 'rejected' });
      expect((error as Error).message).toMatch(/; check clientId and clientSecret$/);
      expect(JSON.parse(JSON.stringify(error))).toMatchObject({ refusedBy: 'identity-platform' });
    }
    const unknown = await failure(createVippsProvider(settings({ clientId: 'not-registered' })).requestToken(context()));
    expect(unknown).toMatchObject({
      status: 400,
      providerCode: 'unauthorized_client',
      providerMessage: expect.stringMatching(/^AADSTS700016: /),
    });
  });

  it.each([
    ['a missing subscription key', undefined, /missing subscription key/],
    ['a wrong subscription key', 'wrong-key-value', /invalid subscription key/],
  ])('should say the API gateway refused %s, and name subscriptionKey alone', async (_, key, said) => {
    // The settings require the key for accesstoken: a proxy that drops or swaps it is the way a real one goes missing.
    const proxy: typeof fetch = (input, init) => {
      const headers = new Headers(init?.headers);
      if (key === undefined) headers.delete('ocp-apim-subscription-key');
      else headers.set('ocp-apim-subscription-key', key);
      return fetch(input, { ...init, headers });
    };
    const error = await failure(createVippsProvider(settings()).requestToken(context({ fetch: proxy })));
    expect(isVippsTokenRequestError(error)).toBe(true);
    expect(error).toMatchObject({ refusedBy: 'api-gateway', reason: 'rejected', status: 401, providerCode: undefined });
    expect((error as { providerMessage?: string }).providerMessage).toMatch(said);
    expect((error as Error).message).toMatch(/; check subscriptionKey$/);
    expectNoSecret(error, secrets);
  });

  it('should say the API gateway refused a key of another sales unit with "Subscription not found."', async () => {
    const other = { clientId: 'a1b2c3d4-0000-4000-8000-000000000001', clientSecret: 'other-secret==', subscriptionKey: 'other-key-value' };
    emulator.addMerchant(other);
    const error = await failure(createVippsProvider(settings({ subscriptionKey: other.subscriptionKey })).requestToken(context()));
    expect(error).toMatchObject({ refusedBy: 'api-gateway', status: 401, providerMessage: 'Subscription not found.' });
    expectNoSecret(error, [...secrets, other.clientSecret, other.subscriptionKey]);
  });

  it("should report the API gateway's 429 as retryable, with its Retry-After for the cache", async () => {
    emulator.fault({ kind: 'status', status: 429 });
    const error = await failure(createVippsProvider(settings()).requestToken(context()));
    expect(error).toMatchObject({ refusedBy: 'api-gateway', reason: 'http', retryable: true, status: 429 });
    expect((error as { response?: Response }).response?.headers.get('retry-after')).toBe('1');
  });

  it('should name no layer for an answer in neither shape', async () => {
    emulator.fault({ kind: 'html', status: 503 });
    const error = await failure(createVippsProvider(settings()).requestToken(context()));
    expect(isVippsTokenRequestError(error)).toBe(true);
    expect(error).toMatchObject({ refusedBy: undefined, status: 503 });
    expect(isVippsTokenRequestError(new Error('no'))).toBe(false);
  });

  it('should report a client secret revoked at the emulator as invalid_client, while the new secret gets a token', async () => {
    emulator.addSecret(merchant.clientId, 'new-secret-value');
    await createVippsProvider(settings()).requestToken(context());
    emulator.revokeSecret(merchant.clientId, merchant.clientSecret);

    const error = await failure(createVippsProvider(settings()).requestToken(context()));
    expect(error).toMatchObject({ reason: 'rejected', retryable: false, status: 401, providerCode: 'invalid_client', provider: 'vipps' });
    expectNoSecret(error, [...secrets, 'new-secret-value']);
    const token = await createVippsProvider(settings({ clientSecret: 'new-secret-value' })).requestToken(context());
    expect(token.accessToken).toMatch(/^eyJ/);
    expect(emulator.secretCountersFor(merchant.clientId).filter(({ field }) => field === 'clientSecret')).toMatchObject([
      { index: 0, revoked: true, tokenRequests: 2, revokedTokenRequests: 1 },
      { index: 1, revoked: false, tokenRequests: 1, revokedTokenRequests: 0 },
    ]);
  });

  it('should report a wrong subscription key as rejected with the API gateway message', async () => {
    const error = await failure(createVippsProvider(settings({ subscriptionKey: 'wrong-key-value' })).requestToken(context()));
    expect(isTokenRequestError(error)).toBe(true);
    if (!isTokenRequestError(error)) return;
    expect(error).toMatchObject({ reason: 'rejected', retryable: false, status: 401 });
    expect(error.providerMessage).toMatch(/invalid subscription key/);
    expectNoSecret(error, secrets);
  });

  it('should report a 400 as rejected', async () => {
    emulator.fault({ kind: 'body', status: 400, body: { error: 'invalid_request', error_description: 'Bad header.' } });
    const error = await failure(createVippsProvider(settings()).requestToken(context()));
    expect(error).toMatchObject({
      reason: 'rejected',
      retryable: false,
      status: 400,
      providerCode: 'invalid_request',
      providerMessage: 'Bad header.',
    });
  });

  it('should redact a secret the gateway echoes in its error', async () => {
    emulator.fault({
      kind: 'body',
      status: 403,
      body: { error: 'forbidden', error_description: `client ${merchant.clientSecret} is blocked` },
    });
    const error = await failure(createVippsProvider(settings()).requestToken(context()));
    expect(error).toMatchObject({ reason: 'rejected', status: 403, providerMessage: 'client [redacted] is blocked' });
    expectNoSecret(error, secrets);
  });

  it.each([
    ['status text and content type of a 401', 401, 'text/plain'],
    ['content type of a 200 that is not JSON', 200, 'text/html'],
  ])('should redact the secrets the gateway echoes in the %s, in the error and its event', async (_, status, type) => {
    const { clientSecret, subscriptionKey } = merchant;
    const echo = `${clientSecret}+${subscriptionKey}`;
    emulator.fault({ kind: 'raw', count: 1, status, statusText: `Denied ${echo}`, contentType: `${type}; echo="${echo}"`, body: 'no' });
    const events: TokenEvent[] = [];
    const cache = createTokenCache(createVippsProvider(settings()), {
      onEvent: (event) => events.push(event),
      clock: { now: () => clock, monotonic: () => clock },
    });
    const error = await failure(cache.getToken());
    expect((error as Error).message).toContain('[redacted]');
    expectNoSecret(error, secrets);
    const failed = events.find((event) => event.type === 'token-request-failed');
    expect(failed).toBeDefined();
    expectNoSecret(failed, secrets);
  });

  it('should name the URL of a token endpoint that answers 404 and suggest checking baseUrl', async () => {
    emulator.fault({ kind: 'raw', count: 1, status: 404, contentType: 'text/html', body: '<h1>Not Found</h1>' });
    const error = await failure(createVippsProvider(settings()).requestToken(context()));
    expect(error).toMatchObject({ reason: 'http', retryable: false, status: 404 });
    expect((error as Error).message).toContain(`POST ${emulator.url}/accesstoken/get`);
    expect((error as Error).message).toContain('check baseUrl');
  });

  it.each([500, 502, 503])('should report %i as a retryable http error', async (status) => {
    emulator.fault({ kind: 'status', status });
    const error = await failure(createVippsProvider(settings()).requestToken(context()));
    expect(error).toMatchObject({ reason: 'http', retryable: true, status });
  });

  it('should report an HTML error page from a proxy as a retryable http error', async () => {
    emulator.fault({ kind: 'html' });
    const error = await failure(createVippsProvider(settings()).requestToken(context()));
    expect(error).toMatchObject({ reason: 'http', retryable: true, status: 502 });
  });

  it.each([
    ['dropped connection', { kind: 'drop' } as const],
    ['truncated body', { kind: 'truncated' } as const],
  ])('should report a %s as a retryable network error', async (_, fault) => {
    emulator.fault(fault);
    const error = await failure(createVippsProvider(settings()).requestToken(context()));
    expect(error).toMatchObject({ reason: 'network', retryable: true });
    expectNoSecret(error, secrets);
  });

  it('should not follow a redirect, so client_secret never goes elsewhere', async () => {
    const target = await createVippsEmulator();
    const redirector = createServer((_, response) => {
      response.writeHead(307, { location: `${target.url}/accesstoken/get` }).end();
    });
    redirector.listen(0, '127.0.0.1');
    await once(redirector, 'listening');
    try {
      const { port } = redirector.address() as AddressInfo;
      const error = await failure(createVippsProvider(settings({ baseUrl: `http://127.0.0.1:${port}` })).requestToken(context()));
      expect(error).toMatchObject({ reason: 'http', retryable: false, status: 307 });
      expect(target.counters.tokenRequests).toBe(0);
    } finally {
      redirector.close();
      await target.close();
    }
  });
});

describe('createVippsProvider secrets', () => {
  it('should keep secrets out of JSON.stringify and util.inspect while apiHeaders still carries the key', () => {
    const provider = createVippsProvider(settings({ merchantSerialNumber: '123456' }));
    expect(provider.apiHeaders['Ocp-Apim-Subscription-Key']).toBe(merchant.subscriptionKey);
    for (const text of [
      JSON.stringify(provider),
      inspect(provider),
      inspect(provider, { showHidden: true }),
      String(Object.keys(provider)),
    ]) {
      expect(text).not.toContain(merchant.clientSecret);
      expect(text).not.toContain(merchant.subscriptionKey);
    }
    expect(JSON.parse(JSON.stringify(provider))).toMatchObject({
      provider: 'vipps',
      clientId: merchant.clientId,
      merchantSerialNumber: '123456',
    });
    expect(provider.cacheKey).toMatch(/^vipps:[0-9a-f]{32}$/);
  });

  it('should give different credentials, endpoints and sales units different cache keys', () => {
    const keys = new Set([
      createVippsProvider(settings()).cacheKey,
      createVippsProvider(settings({ clientSecret: 'other' })).cacheKey,
      createVippsProvider(settings({ subscriptionKey: 'other' })).cacheKey,
      createVippsProvider(settings({ merchantSerialNumber: '1234' })).cacheKey,
      createVippsProvider(settings({ tokenEndpoint: 'partner' })).cacheKey,
      createVippsProvider({ ...merchant, environment: 'test' }).cacheKey,
      createVippsProvider({ ...merchant, environment: 'production' }).cacheKey,
    ]);
    expect(keys.size).toBe(7);
    expect(createVippsProvider(settings()).cacheKey).toBe(createVippsProvider(settings()).cacheKey);
  });
});

describe('createVippsProvider environments', () => {
  it.each([
    ['test', 'https://apitest.vipps.no/accesstoken/get'],
    ['production', 'https://api.vipps.no/accesstoken/get'],
  ] as const)('should send the %s token request to %s', async (environment, expected) => {
    const urls: string[] = [];
    // Records the URL, then answers from the emulator: the real hosts are never called.
    const recording: typeof fetch = (input, init) => {
      const url = new URL(String(input));
      urls.push(url.href);
      return fetch(`${emulator.url}${url.pathname}`, init);
    };
    const provider = createVippsProvider({ ...merchant, environment });
    const token = await provider.requestToken(context({ fetch: recording }));
    expect(urls).toEqual([expected]);
    expect(provider.baseUrl).toBe(new URL(expected).origin);
    expect(token.accessToken).toMatch(/^eyJ/);
  });
});

describe('createVippsProvider partner endpoint', () => {
  it('should POST the documented OAuth 2.0 client credentials request to /miami/v1/token, byte for byte', async () => {
    const provider = createVippsProvider(settings({ tokenEndpoint: 'partner' }));
    const token = await provider.requestToken(context());
    expect(emulator.counters).toMatchObject({
      partnerTokenRequests: 1,
      partnerClientCredentialsRequests: 1,
      partnerLegacyHeaderRequests: 0,
      tokenRequests: 0,
    });
    const [seen] = emulator.seen('partner');
    expect(seen?.method).toBe('POST');
    expect(seen?.path).toBe('/miami/v1/token');
    expect(seen?.body).toBe('grant_type=client_credentials');
    expect(seen?.bodyLength).toBe('grant_type=client_credentials'.length);
    const own = Object.fromEntries(Object.entries(seen?.headers ?? {}).filter(([name]) => !transportHeaders.has(name)));
    // The string client_id:client_secret as it is, in base64: no subscription key, no credential headers.
    const basic = Buffer.from(`${merchant.clientId}:${merchant.clientSecret}`, 'utf8').toString('base64');
    expect(own).toEqual({ authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded' });
    expect(token.expiresAt).toBe(clock + 900_000);
    expect(token.diagnostics).toEqual({ tokenEndpoint: 'partner', expiresInSeconds: 900 });
  });

  it('should send a secret ending in == with characters form-encoding changes as it is, and get a token', async () => {
    // Form-encoding first (RFC 6749 section 2.3.1) would send xcanary%2B..%2F..%3A..%3D%3D, which the emulator refuses.
    const partner = { clientId: '2b1c1a6e-0d1f-4a9b-9d43-7e0c2f6b8a11', clientSecret: 'xcanary+Kt/ew6:GE2 Zm~ycEt6egg==' };
    expect(new URLSearchParams({ s: partner.clientSecret }).toString()).not.toBe(`s=${partner.clientSecret}`);
    emulator.addMerchant(partner);
    const token = await createVippsProvider({ ...partner, baseUrl: emulator.url, tokenEndpoint: 'partner' }).requestToken(context());
    expect(token.accessToken).toMatch(/^eyJ/);
    const authorization = emulator.seen('partner')[0]?.headers.authorization ?? '';
    expect(Buffer.from(authorization.replace(/^Basic /, ''), 'base64').toString('utf8')).toBe(
      `${partner.clientId}:${partner.clientSecret}`,
    );
    expect(emulator.countersFor(partner.clientId)).toMatchObject({ tokensIssued: 1, rejectedTokenRequests: 0 });
  });

  it.each(['number', 'string'] as const)('should read expires_in sent as a %s', async (partnerExpiresIn) => {
    await emulator.close();
    emulator = await createVippsEmulator({ now: () => clock, partnerExpiresIn });
    const token = await createVippsProvider(settings({ tokenEndpoint: 'partner' })).requestToken(context());
    expect(token.expiresAt).toBe(clock + 900_000);
  });

  it('should send Merchant-Serial-Number and the Vipps-System-* headers on the partner call too, as the OpenAPI lists them', async () => {
    await createVippsProvider(settings({ tokenEndpoint: 'partner', merchantSerialNumber: '123456', systemName: 'acme' })).requestToken(
      context(),
    );
    expect(emulator.seen('partner')[0]?.headers).toMatchObject({ 'merchant-serial-number': '123456', 'vipps-system-name': 'acme' });
  });

  it('should redact the Basic credential when a server echoes the Authorization header', async () => {
    const basic = Buffer.from(`${merchant.clientId}:${merchant.clientSecret}`, 'utf8').toString('base64');
    emulator.fault({ kind: 'body', status: 401, body: { error: 'invalid_client', error_description: `Bad header: Basic ${basic}` } });
    const error = await failure(createVippsProvider(settings({ tokenEndpoint: 'partner' })).requestToken(context()));
    expect(error).toMatchObject({ reason: 'rejected', providerMessage: 'Bad header: Basic [redacted]' });
    expectNoSecret(error, [basic, merchant.clientSecret]);
  });

  it('should leave the subscription key out of apiHeaders unless given', () => {
    const { subscriptionKey: _, ...partner } = merchant;
    const without = createVippsProvider({ ...partner, baseUrl: emulator.url, tokenEndpoint: 'partner', merchantSerialNumber: '123456' });
    expect(without.apiHeaders).toEqual({ 'Merchant-Serial-Number': '123456' });
    const withKey = createVippsProvider(settings({ tokenEndpoint: 'partner' }));
    expect(withKey.apiHeaders).toEqual({ 'Ocp-Apim-Subscription-Key': merchant.subscriptionKey });
  });

  it('should report wrong partner credentials as rejected by the identity platform', async () => {
    const error = await failure(
      createVippsProvider(settings({ tokenEndpoint: 'partner', clientSecret: 'wrong-secret-value' })).requestToken(context()),
    );
    expect(error).toMatchObject({
      reason: 'rejected',
      retryable: false,
      status: 401,
      providerCode: 'invalid_client',
      refusedBy: 'identity-platform',
    });
    expectNoSecret(error, ['wrong-secret-value']);
  });
});
