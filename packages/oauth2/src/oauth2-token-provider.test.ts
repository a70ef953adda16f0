import {
  createAuthFetch,
  createMerchantRegistry,
  createTokenCache,
  isConfigurationError,
  isForeignOriginError,
  isTokenRequestError,
  isTokenResponseError,
  type TokenRequestContext,
} from '@x/core';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type ClientCredentialsProviderSettings,
  createClientCredentialsProvider,
  isOAuth2TokenRequestError,
  type OAuth2ErrorCode,
} from './index.js';
import { createOAuth2Emulator, type OAuth2Emulator, type OAuth2EmulatorOptions, oauth2EmulatorDefaultMerchant } from './testing/index.js';

/** A secret whose form-encoded and raw forms differ in every way they can: `+`, `/`, `=`, `:` and a space. */
const awkward = { clientId: 'shop 1', clientSecret: 'xcanary+Kt/ew6:GE2 ycEt6egg==', scopes: ['orders:read', 'orders:write'] };
const now = 1_700_000_000_000;

let emulators: OAuth2Emulator[] = [];

afterEach(async () => {
  await Promise.all(emulators.map((emulator) => emulator.close()));
  emulators = [];
});

async function start(options: OAuth2EmulatorOptions = {}): Promise<OAuth2Emulator> {
  const emulator = await createOAuth2Emulator({ merchants: [oauth2EmulatorDefaultMerchant, awkward], ...options });
  emulators.push(emulator);
  return emulator;
}

function context(): TokenRequestContext {
  return { signal: AbortSignal.timeout(5_000), fetch: globalThis.fetch, now: () => now };
}

/** Settings for the generic emulator: its token URL, its API origin, the awkward client. */
function genericSettings(
  emulator: OAuth2Emulator,
  more: Partial<ClientCredentialsProviderSettings> = {},
): ClientCredentialsProviderSettings {
  return { clientId: awkward.clientId, clientSecret: awkward.clientSecret, tokenUrl: emulator.tokenUrl, baseUrl: emulator.url, ...more };
}

function failureOf(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => undefined,
    (error: unknown) => error,
  );
}

describe('createClientCredentialsProvider against a generic RFC 6749 server', () => {
  it('should send client_secret_basic form-encoded, a form body and Accept: application/json', async () => {
    const emulator = await start();
    const token = await createClientCredentialsProvider(genericSettings(emulator)).requestToken(context());
    expect(token).toMatchObject({ expiresAt: now + 3_600_000, diagnostics: { expiresInSeconds: 3600 } });
    const [seen] = emulator.seen('token');
    const formEncode = (value: string) => new URLSearchParams([['', value]]).toString().slice(1);
    const encoded = `${formEncode(awkward.clientId)}:${formEncode(awkward.clientSecret)}`;
    expect(encoded).toBe('shop+1:xcanary%2BKt%2Few6%3AGE2+ycEt6egg%3D%3D');
    expect(seen?.headers).toMatchObject({
      authorization: `Basic ${Buffer.from(encoded).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
      accept: 'application/json',
    });
    expect(seen?.body).toBe('grant_type=client_credentials');
  });

  it('should send client_secret_post in the body and no Authorization header', async () => {
    const emulator = await start();
    await createClientCredentialsProvider(genericSettings(emulator, { authMethod: 'client_secret_post' })).requestToken(context());
    const [seen] = emulator.seen('token');
    expect(seen?.headers.authorization).toBeUndefined();
    expect(Object.fromEntries(new URLSearchParams(seen?.body))).toEqual({
      grant_type: 'client_credentials',
      client_id: awkward.clientId,
      client_secret: awkward.clientSecret,
    });
  });

  it('should match the Basic encoding to the server: unencoded fails where the server form-decodes, and the reverse', async () => {
    const rfc = await start();
    const asIs = await start({ basicEncoding: 'as-is' });
    const unencoded = genericSettings(rfc, { authMethod: 'client_secret_basic_unencoded', clientId: 'shop-1' });
    rfc.addMerchant({ ...awkward, clientId: 'shop-1' });
    const refused = await failureOf(createClientCredentialsProvider(unencoded).requestToken(context()));
    expect(refused).toMatchObject({ reason: 'rejected', status: 401, providerCode: 'invalid_client' });
    asIs.addMerchant({ ...awkward, clientId: 'shop-1' });
    const asIsSettings = { ...unencoded, tokenUrl: asIs.tokenUrl, baseUrl: asIs.url };
    await expect(createClientCredentialsProvider(asIsSettings).requestToken(context())).resolves.toMatchObject({
      expiresAt: now + 3_600_000,
    });
    const encoded = await failureOf(
      createClientCredentialsProvider({ ...asIsSettings, authMethod: 'client_secret_basic' }).requestToken(context()),
    );
    expect(encoded).toMatchObject({ reason: 'rejected', providerCode: 'invalid_client' });
  });

  it('should send scope and audience, and refuse a scope the server does not grant as invalid_scope', async () => {
    const emulator = await start();
    await createClientCredentialsProvider(
      genericSettings(emulator, { scope: 'orders:read', audience: 'https://api.example.com/' }),
    ).requestToken(context());
    expect(emulator.seen('token')[0]?.body).toBe(
      'grant_type=client_credentials&scope=orders%3Aread&audience=https%3A%2F%2Fapi.example.com%2F',
    );
    const error = await failureOf(
      createClientCredentialsProvider(genericSettings(emulator, { scope: 'orders:delete' })).requestToken(context()),
    );
    expect(error).toMatchObject({ reason: 'rejected', retryable: false, status: 400, providerCode: 'invalid_scope' });
    expect((error as Error).message).toMatch(/; check scope and audience$/);
  });

  it('should read expires_in as a number or a string, counted from the answer on the local clock', async () => {
    for (const expiresIn of ['number', 'string'] as const) {
      const emulator = await start({ expiresIn, tokenLifetimeMs: 900_000 });
      const token = await createClientCredentialsProvider(genericSettings(emulator)).requestToken(context());
      expect(token, expiresIn).toMatchObject({ expiresAt: now + 900_000, diagnostics: { expiresInSeconds: 900 } });
    }
  });

  it('should need defaultLifetimeMs for an answer without expires_in: a ConfigurationError at the first token, not a guess', async () => {
    const emulator = await start({ expiresIn: 'omitted' });
    const error = await failureOf(createClientCredentialsProvider(genericSettings(emulator)).requestToken(context()));
    expect(isConfigurationError(error)).toBe(true);
    expect(error).toMatchObject({ provider: 'oauth2', issues: [{ path: 'defaultLifetimeMs' }] });
    const provider = createClientCredentialsProvider(genericSettings(emulator, { defaultLifetimeMs: 600_000 }));
    await expect(provider.requestToken(context())).resolves.toMatchObject({
      expiresAt: now + 600_000,
      diagnostics: { defaultLifetimeMs: 600_000 },
    });
    // Through the cache, the configuration error is not retried.
    const cache = createTokenCache(createClientCredentialsProvider(genericSettings(emulator)), { policy: { failureCooldownMs: 60_000 } });
    await expect(cache.getToken()).rejects.toSatisfy(isConfigurationError);
    await expect(cache.getToken()).rejects.toSatisfy(isConfigurationError);
    expect(emulator.counters.tokenRequests).toBe(3);
  });

  it('should take Bearer in any case and refuse another token_type as a TokenResponseError', async () => {
    const emulator = await start();
    const provider = createClientCredentialsProvider(genericSettings(emulator));
    emulator.fault({ kind: 'body', body: { access_token: 'xcanary-lower', token_type: 'bearer', expires_in: 60 } });
    await expect(provider.requestToken(context())).resolves.toMatchObject({ accessToken: 'xcanary-lower' });
    emulator.fault({ kind: 'body', body: { access_token: 'xcanary-mac', token_type: 'MAC', expires_in: 60 } });
    const error = await failureOf(provider.requestToken(context()));
    expect(isTokenResponseError(error)).toBe(true);
    expect(error).toMatchObject({ field: 'token_type' });
  });

  const codes: Array<[OAuth2ErrorCode, number, string]> = [
    ['invalid_request', 400, 'check authMethod, scope and audience'],
    ['invalid_client', 401, 'check clientId, clientSecret and authMethod'],
    ['invalid_grant', 400, 'check clientId, clientSecret and audience'],
    ['unauthorized_client', 400, 'check clientId, clientSecret, authMethod and whether the client may use client_credentials'],
    ['unsupported_grant_type', 400, 'check tokenUrl'],
    ['invalid_scope', 400, 'check scope and audience'],
  ];
  it.each(codes)('should map %s to a rejection that is never retried, with providerCode and what to check', async (code, status, check) => {
    const emulator = await start();
    emulator.fault({ kind: 'body', status, body: { error: code, error_description: `about ${code}`, error_uri: 'https://example.com' } });
    const error = await failureOf(createClientCredentialsProvider(genericSettings(emulator)).requestToken(context()));
    expect(isOAuth2TokenRequestError(error)).toBe(true);
    expect(error).toMatchObject({ reason: 'rejected', retryable: false, status, providerCode: code, providerMessage: `about ${code}` });
    expect((error as Error).message).toBe(
      `[oauth2] 127.0.0.1:${new URL(emulator.url).port} rejected the token request with status code ${status} ${status === 401 ? 'Unauthorized' : 'Bad Request'}: POST ${emulator.tokenUrl} (code ${code}: about ${code}); ${check}`,
    );
  });

  it('should retry 5xx, 408 and 429 whatever their code, and reject 401 and 403 without one', async () => {
    const emulator = await start();
    const provider = createClientCredentialsProvider(genericSettings(emulator));
    for (const [status, body, retryable] of [
      [503, { error: 'temporarily_unavailable' }, true],
      [500, { error: 'invalid_request' }, true],
      [429, {}, true],
      [408, {}, true],
      [401, {}, false],
      [403, { error: 'access_denied' }, false],
      [404, {}, false],
    ] as const) {
      emulator.fault({ kind: 'body', status, body });
      const error = await failureOf(provider.requestToken(context()));
      expect(isTokenRequestError(error) && error.retryable, String(status)).toBe(retryable);
    }
  });
});

describe('createClientCredentialsProvider as PayPal', () => {
  const paypalSettings = (emulator: OAuth2Emulator): ClientCredentialsProviderSettings => {
    const { clientId, clientSecret } = oauth2EmulatorDefaultMerchant;
    return { clientId, clientSecret, preset: 'paypal', baseUrl: emulator.url };
  };

  it('should get a 9-hour token from /v1/oauth2/token with Basic credentials as they are', async () => {
    const emulator = await start({ flavor: 'paypal' });
    const { clientId, clientSecret } = oauth2EmulatorDefaultMerchant;
    const provider = createClientCredentialsProvider({ clientId, clientSecret, preset: 'paypal', baseUrl: emulator.url });
    const token = await provider.requestToken(context());
    expect(token).toMatchObject({ accessToken: expect.stringMatching(/^A21AA/), expiresAt: now + 32_400_000 });
    const [seen] = emulator.seen('token');
    expect(seen?.path).toBe('/v1/oauth2/token');
    expect(seen?.headers.authorization).toBe(`Basic ${Buffer.from(`${clientId}:${clientSecret}`).toString('base64')}`);
  });

  it('should reject bad credentials with PayPal’s invalid_client and carry paypal-debug-id in diagnostics and message', async () => {
    const emulator = await start({ flavor: 'paypal' });
    const { clientId } = oauth2EmulatorDefaultMerchant;
    const provider = createClientCredentialsProvider({ clientId, clientSecret: 'xcanary-wrong', preset: 'paypal', baseUrl: emulator.url });
    const error = await failureOf(provider.requestToken(context()));
    expect(isOAuth2TokenRequestError(error)).toBe(true);
    if (!isOAuth2TokenRequestError(error)) return;
    const debugId = error.response?.headers.get('paypal-debug-id');
    expect(debugId).toMatch(/^[0-9a-f]{13}$/);
    expect(error).toMatchObject({
      reason: 'rejected',
      retryable: false,
      status: 401,
      providerCode: 'invalid_client',
      providerMessage: 'Client Authentication failed',
      diagnostics: { 'paypal-debug-id': debugId },
    });
    expect(error.message).toMatch(
      new RegExp(
        `^\\[oauth2\\] PayPal rejected the token request with status code 401 Unauthorized: .*; check clientId, clientSecret and authMethod; paypal-debug-id ${debugId}$`,
      ),
    );
    expect(JSON.parse(JSON.stringify(error))).toMatchObject({ diagnostics: { 'paypal-debug-id': debugId } });
  });

  it('should keep paypal-debug-id on a retryable 5xx, and redact a header that echoes the secret', async () => {
    const emulator = await start({ flavor: 'paypal' });
    const provider = createClientCredentialsProvider(paypalSettings(emulator));
    emulator.fault({ kind: 'status', status: 503 });
    const unavailable = await failureOf(provider.requestToken(context()));
    expect(unavailable).toMatchObject({ retryable: true, diagnostics: { 'paypal-debug-id': expect.stringMatching(/^[0-9a-f]{13}$/) } });
    emulator.fault({
      kind: 'raw',
      status: 401,
      headers: { 'paypal-debug-id': `id ${oauth2EmulatorDefaultMerchant.clientSecret}` },
      body: '{}',
    });
    const echoed = await failureOf(provider.requestToken(context()));
    expect(echoed).toMatchObject({ diagnostics: { 'paypal-debug-id': 'id [redacted]' } });
  });

  it('should call the API with the token, and refuse to send it to the token URL’s other origin', async () => {
    const emulator = await start({ flavor: 'paypal' });
    // One server, two origins: tokens from localhost, the API on 127.0.0.1.
    const tokenUrl = emulator.tokenUrl.replace('127.0.0.1', 'localhost');
    const authFetch = createAuthFetch(createClientCredentialsProvider({ ...paypalSettings(emulator), tokenUrl }));
    const response = await authFetch('/v2/checkout/orders/5O190127TN364715T');
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({
      clientId: oauth2EmulatorDefaultMerchant.clientId,
      path: '/v2/checkout/orders/5O190127TN364715T',
    });
    expect(emulator.seen('token')[0]?.headers.host).toBe(new URL(tokenUrl).host);
    expect(emulator.seen('api')[0]?.headers.authorization).toMatch(/^Bearer A21AA/);
    await expect(authFetch(`${new URL(tokenUrl).origin}/v2/checkout/orders/1`)).rejects.toSatisfy(isForeignOriginError);
    expect(emulator.seen('api')).toHaveLength(1);
  });

  it('should get a new token after a revoked one is refused, and a rotated secret once the old one is revoked', async () => {
    const emulator = await start({ flavor: 'paypal' });
    const { clientId, clientSecret } = oauth2EmulatorDefaultMerchant;
    const authFetch = createAuthFetch(createClientCredentialsProvider(paypalSettings(emulator)));
    expect((await authFetch('/v2/checkout/orders/1')).status).toBe(200);
    expect(emulator.revoke()).toBe(1);
    expect((await authFetch('/v2/checkout/orders/2')).status).toBe(200);
    expect(emulator.counters).toMatchObject({ tokensIssued: 2, unauthorizedApiCalls: 1 });

    emulator.addSecret(clientId, 'xcanary-rotated');
    emulator.revokeSecret(clientId, clientSecret);
    const rotated = createAuthFetch(createClientCredentialsProvider({ ...paypalSettings(emulator), clientSecret: 'xcanary-rotated' }));
    expect((await rotated('/v2/checkout/orders/3')).status).toBe(200);
    const old = await failureOf(createClientCredentialsProvider(paypalSettings(emulator)).requestToken(context()));
    expect(old).toMatchObject({ providerCode: 'invalid_client' });
    expect(emulator.secretCountersFor(clientId).map(({ index, revoked, tokenRequests }) => ({ index, revoked, tokenRequests }))).toEqual([
      { index: 0, revoked: true, tokenRequests: 3 },
      { index: 1, revoked: false, tokenRequests: 1 },
    ]);
  });
});

describe('createMerchantRegistry with oauth2 merchants', () => {
  it('should run a PayPal merchant and a generic one side by side from one configuration', async () => {
    const { clientId, clientSecret } = oauth2EmulatorDefaultMerchant;
    const paypal = await start({ flavor: 'paypal' });
    const generic = await start();
    const registry = createMerchantRegistry({
      providers: { oauth2: createClientCredentialsProvider },
      merchants: {
        'paypal-eu': { provider: 'oauth2', preset: 'paypal', baseUrl: paypal.url, clientId, clientSecret },
        partner: { provider: 'oauth2', ...genericSettings(generic, { scope: 'orders:read' }) },
      },
    });
    try {
      expect((await registry.fetch('paypal-eu')('/v2/checkout/orders/1')).status).toBe(200);
      expect(await (await registry.fetch('partner')('/api/orders/1')).json()).toMatchObject({
        clientId: awkward.clientId,
        scope: 'orders:read',
      });
      expect([paypal.counters.tokensIssued, generic.counters.tokensIssued]).toEqual([1, 1]);
    } finally {
      await registry.close();
    }
  });
});
