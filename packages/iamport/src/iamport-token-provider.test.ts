import { inspect } from 'node:util';
import {
  createTokenCache,
  isTokenRequestError,
  isTokenResponseError,
  type TokenEvent,
  type TokenRequestContext,
  type TokenRequestError,
  type TokenResponseError,
} from '@x/core';
import { createCanary } from '@x/core/testing';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { iamportRejectedCredentialsMessage } from './iamport-api-types.js';
import { createIamportProvider, iamportCachePolicy } from './iamport-token-provider.js';
import { createIamportEmulator, type IamportEmulator, type IamportFault } from './testing/index.js';

/** 200 with `now` and `expired_at` as strings. */
const wrongTypes: IamportFault = {
  kind: 'body',
  body: { code: 0, message: null, response: { access_token: createCanary('', 33), now: '1700000000', expired_at: '1700001800' } },
};
/** 200 without `response.access_token`. */
const missingField: IamportFault = {
  kind: 'body',
  body: { code: 0, message: null, response: { now: 1_700_000_000, expired_at: 1_700_001_800 } },
};

let emulator: IamportEmulator;
const time = Date.UTC(2024, 5, 1, 0, 0, 0);

beforeAll(async () => {
  emulator = await createIamportEmulator({ now: () => time, tokenFormat: 'canary' });
});

afterAll(async () => {
  await emulator.close();
});

beforeEach(() => {
  emulator.clearFaults();
  emulator.setClockOffset(0);
  emulator.revoke();
  emulator.resetCounters();
});

function context(): TokenRequestContext {
  return { signal: new AbortController().signal, fetch: (input, init) => globalThis.fetch(input, init), now: () => time };
}

function provider(impSecret = emulator.defaultMerchant.impSecret) {
  return createIamportProvider({ impKey: emulator.defaultMerchant.impKey, impSecret, baseUrl: emulator.url });
}

async function failure(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the promise to reject');
}

function expectNoSecret(error: unknown, ...secrets: string[]): void {
  for (const text of [JSON.stringify(error), inspect(error, { depth: 10, showHidden: false }), (error as Error).message]) {
    for (const secret of secrets) expect(text).not.toContain(secret);
  }
}

describe('createIamportProvider', () => {
  it('should return the token with a local expiry 30 minutes after the response arrived', async () => {
    const token = await provider().requestToken(context());
    expect(token.accessToken).toBe(emulator.currentToken()?.accessToken);
    expect(token.expiresAt).toBe(time + 30 * 60_000);
    expect(token.diagnostics).toEqual({
      clockSkewMs: 0,
      serverNow: Math.floor(time / 1000),
      serverExpiredAt: Math.floor(time / 1000) + 1800,
    });
  });

  it("should compute the expiry from expired_at - now when i'mport's clock is 9 hours ahead", async () => {
    emulator.setClockOffset(9 * 3_600_000);
    const token = await provider().requestToken(context());
    expect(token.expiresAt).toBe(time + 30 * 60_000);
    expect(token.diagnostics?.clockSkewMs).toBe(9 * 3_600_000);
  });

  it("should compute the expiry from expired_at - now when i'mport's clock is 10 minutes behind", async () => {
    emulator.setClockOffset(-600_000);
    const token = await provider().requestToken(context());
    expect(token.expiresAt).toBe(time + 30 * 60_000);
    expect(token.diagnostics?.clockSkewMs).toBe(-600_000);
  });

  it("should expose i'mport's reuse rule in its cache policy: refresh 40-50 s before expiry", () => {
    const { refreshAheadMs = 0, refreshAheadJitter = 0 } = provider().cachePolicy;
    expect(refreshAheadMs).toBeLessThan(60_000);
    expect(refreshAheadMs * (1 - refreshAheadJitter)).toBeGreaterThanOrEqual(40_000);
    expect(iamportCachePolicy).toBe(provider().cachePolicy);
  });

  it("should turn rejected credentials into a non-retryable TokenRequestError with i'mport's Korean message", async () => {
    const secret = 'wrong-secret-0123456789';
    const error = (await failure(provider(secret).requestToken(context()))) as TokenRequestError;
    expect(isTokenRequestError(error)).toBe(true);
    expect(error).toMatchObject({
      provider: 'iamport',
      reason: 'rejected',
      retryable: false,
      status: 401,
      providerCode: -1,
      providerMessage: iamportRejectedCredentialsMessage,
    });
    expect(error.message).toContain(iamportRejectedCredentialsMessage);
    expectNoSecret(error, secret);
  });

  it('should report a secret revoked at the emulator as rejected, like a wrong one, while the new secret gets a token', async () => {
    const oldSecret = createCanary('old-', 40);
    const newSecret = createCanary('new-', 40);
    emulator.addMerchant({ impKey: 'imp_rotating', impSecret: oldSecret });
    emulator.addSecret('imp_rotating', newSecret);
    const withSecret = (impSecret: string) => createIamportProvider({ impKey: 'imp_rotating', impSecret, baseUrl: emulator.url });
    await withSecret(oldSecret).requestToken(context());
    emulator.revokeSecret('imp_rotating', oldSecret);

    const error = (await failure(withSecret(oldSecret).requestToken(context()))) as TokenRequestError;
    expect(error).toMatchObject({ provider: 'iamport', reason: 'rejected', retryable: false, status: 401, providerCode: -1 });
    expectNoSecret(error, oldSecret, newSecret);
    await expect(withSecret(newSecret).requestToken(context())).resolves.toMatchObject({ expiresAt: time + 30 * 60_000 });
    expect(
      emulator.secretCountersFor('imp_rotating').map(({ tokenRequests, revokedTokenRequests }) => [tokenRequests, revokedTokenRequests]),
    ).toEqual([
      [2, 1],
      [1, 0],
    ]);
  });

  it('should treat a non-zero code in a 200 answer as a rejection', async () => {
    emulator.fault({ kind: 'body', body: { code: 1, message: '사용이 중지된 REST API 키입니다.', response: null } });
    const error = (await failure(provider().requestToken(context()))) as TokenRequestError;
    expect(error).toMatchObject({
      reason: 'rejected',
      retryable: false,
      status: 200,
      providerCode: 1,
      providerMessage: '사용이 중지된 REST API 키입니다.',
    });
  });

  it('should redact the secret if a server ever echoes it', async () => {
    const { impSecret } = emulator.defaultMerchant;
    emulator.fault({ kind: 'body', status: 500, body: { code: -1, message: `bad secret ${impSecret}`, response: null } });
    const error = (await failure(provider().requestToken(context()))) as TokenRequestError;
    expect(error.providerMessage).toBe('bad secret [redacted]');
    expectNoSecret(error, impSecret);
  });

  it.each([
    ['status text and content type of a 401', 401, 'text/plain'],
    ['content type of a 200 that is not JSON', 200, 'text/html'],
  ])('should redact a secret the server echoes in the %s, in the error and its event', async (_, status, type) => {
    const { impSecret } = emulator.defaultMerchant;
    emulator.fault({ kind: 'raw', status, statusText: `Denied ${impSecret}`, contentType: `${type}; echo=${impSecret}`, body: 'no' });
    const events: TokenEvent[] = [];
    const cache = createTokenCache(provider(), { onEvent: (event) => events.push(event) });
    const error = (await failure(cache.getToken())) as Error;
    expect(error.message).toContain('[redacted]');
    expectNoSecret(error, impSecret);
    const failed = events.find((event) => event.type === 'token-request-failed');
    expect(failed).toBeDefined();
    for (const text of [JSON.stringify(failed), inspect(failed, { depth: 10, showHidden: true })]) expect(text).not.toContain(impSecret);
  });

  it('should name the URL of a token endpoint that answers 404 and suggest checking baseUrl', async () => {
    emulator.fault({ kind: 'raw', status: 404, contentType: 'text/html', body: '<html><h1>Not Found</h1></html>' });
    const error = (await failure(provider().requestToken(context()))) as TokenRequestError;
    expect(error).toMatchObject({ reason: 'http', retryable: false, status: 404 });
    expect(error.message).toContain(`POST ${emulator.url}/users/getToken`);
    expect(error.message).toContain('check baseUrl');
  });

  it('should make 5xx answers retryable', async () => {
    emulator.fault({ kind: 'status', status: 503 });
    const error = (await failure(provider().requestToken(context()))) as TokenRequestError;
    expect(error).toMatchObject({ reason: 'http', retryable: true, status: 503, providerCode: -1 });
  });

  it("should make a proxy's HTML error page retryable and say it was HTML", async () => {
    emulator.fault({ kind: 'html', status: 502 });
    const error = (await failure(provider().requestToken(context()))) as TokenRequestError;
    expect(error).toMatchObject({ reason: 'http', retryable: true, status: 502, providerCode: undefined });
    expect(error.message).toMatch(/HTML/);
  });

  it.each([
    ['html', { kind: 'html', status: 200 }, '', /HTML/],
    ['malformed', { kind: 'malformed' }, '', /malformed or truncated JSON/],
    ['wrong-types', wrongTypes, 'response.now', /expected number, got a string/],
    ['missing-field', missingField, 'response.access_token', /missing/],
  ] as Array<[string, IamportFault, string, RegExp]>)(
    'should turn a 200 with a %s body into a TokenResponseError naming the field',
    async (_, fault, field, message) => {
      emulator.fault(fault);
      const error = (await failure(provider().requestToken(context()))) as TokenResponseError;
      expect(isTokenResponseError(error)).toBe(true);
      expect(error.field).toBe(field);
      expect(error.message).toMatch(message);
      expect(error.provider).toBe('iamport');
    },
  );

  it('should refuse a token whose expired_at is not after now', async () => {
    const instant = await createIamportEmulator({ now: () => time, tokenLifetimeMs: 0, tokenFormat: 'canary' });
    try {
      const expired = createIamportProvider({ ...instant.defaultMerchant, baseUrl: instant.url });
      const error = (await failure(expired.requestToken(context()))) as TokenResponseError;
      expect(isTokenResponseError(error)).toBe(true);
      expect(error.field).toBe('response.expired_at');
    } finally {
      await instant.close();
    }
  });

  it.each(['drop', 'truncated'] as const)('should make a %s connection a retryable network error', async (kind) => {
    emulator.fault({ kind });
    const error = (await failure(provider().requestToken(context()))) as TokenRequestError;
    expect(error).toMatchObject({ provider: 'iamport', reason: 'network', retryable: true });
  });

  it('should keep the secret out of JSON.stringify and util.inspect of the provider', () => {
    const secret = 'very-secret-value-42';
    const iamport = createIamportProvider({ impKey: 'imp_apikey', impSecret: secret, baseUrl: emulator.url });
    expect(JSON.stringify(iamport)).not.toContain(secret);
    expect(inspect(iamport, { showHidden: true, depth: 10 })).not.toContain(secret);
    expect(JSON.parse(JSON.stringify(iamport))).toEqual({ provider: 'iamport', baseUrl: emulator.url, cacheKey: iamport.cacheKey });
    expect(Object.values(iamport)).not.toContain(secret);
  });

  it('should derive a cache key from endpoint and credentials without revealing them', () => {
    const a = createIamportProvider({ impKey: 'imp_a', impSecret: 'secret-a' });
    expect(a.cacheKey).toMatch(/^iamport:[0-9a-f]{32}$/);
    expect(createIamportProvider({ impKey: 'imp_a', impSecret: 'secret-a' }).cacheKey).toBe(a.cacheKey);
    expect(createIamportProvider({ impKey: 'imp_a', impSecret: 'secret-b' }).cacheKey).not.toBe(a.cacheKey);
    expect(createIamportProvider({ impKey: 'imp_a', impSecret: 'secret-a', baseUrl: emulator.url }).cacheKey).not.toBe(a.cacheKey);
  });
});
