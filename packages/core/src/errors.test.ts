import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import {
  AuthError,
  ConfigurationError,
  ErrorCode,
  ForeignOriginError,
  isAuthError,
  isConfigurationError,
  isForeignOriginError,
  isRetryable,
  isTokenRequestError,
  isTokenResponseError,
  isUnknownMerchantError,
  MerchantResolveError,
  RegistryClosedError,
  TokenRequestError,
  TokenResponseError,
  UnknownMerchantError,
} from './errors.js';

const secret = 'sk_live_7f3a9c1e-secret';
const token = 'eyJhbGciOiJIUzI1NiJ9.access-token-value';

/** A response whose body and headers hold secrets, as a token endpoint's answer does. */
function secretResponse(status = 401): Response {
  return new Response(JSON.stringify({ access_token: token, client_secret: secret }), {
    status,
    headers: { 'content-type': 'application/json', 'x-echo-secret': secret },
  });
}

/** What a second copy of @x/core would throw: same brand, different class. */
function foreignCopy(code: string, fields: Record<string, unknown> = {}): object {
  const error = Object.assign(new Error('from another copy'), fields);
  Object.defineProperty(error, Symbol.for('@x/core.error'), { value: code });
  return error;
}

const guards = {
  [ErrorCode.TokenRequestFailed]: isTokenRequestError,
  [ErrorCode.TokenResponseInvalid]: isTokenResponseError,
  [ErrorCode.ConfigurationInvalid]: isConfigurationError,
  [ErrorCode.ForeignOrigin]: isForeignOriginError,
  [ErrorCode.UnknownMerchant]: isUnknownMerchantError,
} as const;

function instances(): Array<[ErrorCode, AuthError]> {
  return [
    [
      ErrorCode.TokenRequestFailed,
      new TokenRequestError('Token request failed with status 401', {
        provider: 'iamport',
        merchant: 'shop-kr',
        reason: 'rejected',
        retryable: false,
        status: 401,
        providerCode: -1,
        providerMessage: '아임포트 API 키가 올바르지 않습니다',
        response: secretResponse(),
      }),
    ],
    [
      ErrorCode.TokenResponseInvalid,
      new TokenResponseError('Token response field "response.access_token" is invalid: expected string, missing', {
        provider: 'iamport',
        field: 'response.access_token',
        status: 200,
        response: secretResponse(200),
      }),
    ],
    [
      ErrorCode.ConfigurationInvalid,
      new ConfigurationError({ provider: 'vipps', issues: [{ path: 'clientSecret', message: 'required' }] }),
    ],
    [
      ErrorCode.ForeignOrigin,
      new ForeignOriginError({ provider: 'vipps', origin: 'https://evil.example', expectedOrigin: 'https://api.vipps.no' }),
    ],
    [ErrorCode.UnknownMerchant, new UnknownMerchantError('shop-xx')],
    [
      ErrorCode.MerchantResolveFailed,
      new MerchantResolveError('Resolving merchant "shop-xx" failed (Error)', { merchant: 'shop-xx', reason: 'failed' }),
    ],
    [ErrorCode.RegistryClosed, new RegistryClosedError('shop-xx')],
  ];
}

function instanceOf(code: ErrorCode): AuthError {
  const found = instances().find(([candidate]) => candidate === code);
  if (found === undefined) throw new Error(`no instance for ${code}`);
  return found[1];
}

describe('ErrorCode', () => {
  it('should keep its stable code strings', () => {
    expect(ErrorCode).toEqual({
      TokenRequestFailed: 'X_TOKEN_REQUEST_FAILED',
      TokenResponseInvalid: 'X_TOKEN_RESPONSE_INVALID',
      ConfigurationInvalid: 'X_CONFIGURATION_INVALID',
      ForeignOrigin: 'X_FOREIGN_ORIGIN',
      UnknownMerchant: 'X_UNKNOWN_MERCHANT',
      TokenStoreFailed: 'X_TOKEN_STORE_FAILED',
      MerchantResolveFailed: 'X_MERCHANT_RESOLVE_FAILED',
      RegistryClosed: 'X_REGISTRY_CLOSED',
    });
  });
});

describe('error classes', () => {
  it('should carry their code and name and extend AuthError and Error', () => {
    const names = instances().map(([code, error]) => {
      expect(error.code).toBe(code);
      expect(error).toBeInstanceOf(AuthError);
      expect(error).toBeInstanceOf(Error);
      expect(error.name).toBe(error.constructor.name);
      expect(error.stack).toContain(error.name);
      return error.name;
    });
    expect(names).toEqual([
      'TokenRequestError',
      'TokenResponseError',
      'ConfigurationError',
      'ForeignOriginError',
      'UnknownMerchantError',
      'MerchantResolveError',
      'RegistryClosedError',
    ]);
  });

  it('should name the provider and merchant in the message', () => {
    const request = instanceOf(ErrorCode.TokenRequestFailed);
    const configuration = instanceOf(ErrorCode.ConfigurationInvalid);
    const merchant = instanceOf(ErrorCode.UnknownMerchant);
    expect(request.message).toBe('[iamport, merchant shop-kr] Token request failed with status 401');
    expect(request.provider).toBe('iamport');
    expect(request.merchant).toBe('shop-kr');
    expect(configuration.message).toBe('[vipps] Invalid configuration: clientSecret: required');
    expect(merchant.message).toBe('[merchant shop-xx] Unknown merchant id "shop-xx"');
    expect(new AuthError(ErrorCode.TokenRequestFailed, 'plain').message).toBe('plain');
  });

  it('should keep the standard cause', () => {
    const cause = new Error('ECONNRESET');
    const error = new TokenRequestError('Token request failed', { provider: 'test', reason: 'network', retryable: true, cause });
    expect(error.cause).toBe(cause);
    expect(Object.keys(error)).not.toContain('cause');
    expect('cause' in new TokenRequestError('x', { reason: 'network', retryable: true })).toBe(false);
  });

  it('should hold the token request details', () => {
    const error = instanceOf(ErrorCode.TokenRequestFailed);
    expect(error).toMatchObject({
      reason: 'rejected',
      retryable: false,
      status: 401,
      providerCode: -1,
      providerMessage: '아임포트 API 키가 올바르지 않습니다',
    });
    expect((error as TokenRequestError).response?.status).toBe(401);
  });

  it('should list every configuration issue and expose the first path', () => {
    const error = new ConfigurationError({
      provider: 'iamport',
      issues: [
        { path: 'impKey', message: 'required' },
        { path: 'impSecret', message: 'required' },
      ],
    });
    expect(error.message).toBe('[iamport] Invalid configuration:\n  impKey: required\n  impSecret: required');
    expect(error.path).toBe('impKey');
    expect(error.issues).toHaveLength(2);
    expect(new ConfigurationError({ issues: [] }).path).toBeUndefined();
  });

  it('should keep the raw response off the error object, out of reach of inspect even with showHidden', () => {
    for (const [, error] of instances().slice(0, 2)) {
      expect((error as TokenRequestError).response).toBeInstanceOf(Response);
      expect(Object.getOwnPropertyNames(error)).not.toContain('response');
      expect(inspect(error, { showHidden: true, depth: Number.POSITIVE_INFINITY })).not.toMatch(/Response \{/);
    }
  });

  it('should never show a secret or token in its message, JSON or inspect output', () => {
    for (const [, error] of instances()) {
      for (const text of [error.message, JSON.stringify(error), inspect(error), inspect(error, { depth: 10 }), String(error)]) {
        expect(text).not.toContain(secret);
        expect(text).not.toContain(token);
      }
    }
  });

  it('should describe itself in JSON without undefined fields', () => {
    const request = instanceOf(ErrorCode.TokenRequestFailed);
    const response = instanceOf(ErrorCode.TokenResponseInvalid);
    const configuration = instanceOf(ErrorCode.ConfigurationInvalid);
    expect(JSON.parse(JSON.stringify(request))).toEqual({
      name: 'TokenRequestError',
      code: 'X_TOKEN_REQUEST_FAILED',
      message: '[iamport, merchant shop-kr] Token request failed with status 401',
      provider: 'iamport',
      merchant: 'shop-kr',
      reason: 'rejected',
      retryable: false,
      status: 401,
      providerCode: -1,
      providerMessage: '아임포트 API 키가 올바르지 않습니다',
    });
    expect(JSON.parse(JSON.stringify(response))).toMatchObject({
      code: 'X_TOKEN_RESPONSE_INVALID',
      field: 'response.access_token',
      retryable: true,
    });
    expect(JSON.parse(JSON.stringify(configuration))).toMatchObject({ issues: [{ path: 'clientSecret', message: 'required' }] });
    expect(new UnknownMerchantError('shop-xx').toJSON()).toStrictEqual({
      name: 'UnknownMerchantError',
      code: 'X_UNKNOWN_MERCHANT',
      message: '[merchant shop-xx] Unknown merchant id "shop-xx"',
      merchant: 'shop-xx',
    });
  });
});

describe('guards', () => {
  it('should recognise each class and nothing else', () => {
    for (const [code, error] of instances()) {
      expect(isAuthError(error)).toBe(true);
      for (const [guardCode, guard] of Object.entries(guards)) expect(guard(error)).toBe(guardCode === code);
    }
  });

  it('should work across duplicated copies of the package', () => {
    for (const [code, guard] of Object.entries(guards)) {
      const copy = foreignCopy(code);
      expect(copy).not.toBeInstanceOf(AuthError);
      expect(isAuthError(copy)).toBe(true);
      expect(guard(copy)).toBe(true);
      for (const [otherCode, other] of Object.entries(guards)) if (otherCode !== code) expect(other(copy)).toBe(false);
    }
  });

  it('should reject values without the brand or with a malformed one', () => {
    for (const value of [
      undefined,
      null,
      'X_TOKEN_REQUEST_FAILED',
      42,
      new Error('plain'),
      { code: ErrorCode.TokenRequestFailed, name: 'TokenRequestError' },
      { [Symbol('@x/core.error')]: ErrorCode.TokenRequestFailed },
      { [Symbol.for('@x/core.error')]: true },
    ]) {
      expect(isAuthError(value)).toBe(false);
      for (const guard of Object.values(guards)) expect(guard(value)).toBe(false);
    }
  });

  it('should not show the brand as an enumerable property', () => {
    const error = instanceOf(ErrorCode.TokenRequestFailed);
    expect(Object.getOwnPropertyDescriptor(error, Symbol.for('@x/core.error'))).toMatchObject({
      value: ErrorCode.TokenRequestFailed,
      enumerable: false,
    });
  });
});

describe('isRetryable', () => {
  it('should follow the error’s own retryable flag, across copies too', () => {
    expect(isRetryable(new TokenRequestError('x', { reason: 'http', retryable: true, status: 503 }))).toBe(true);
    expect(isRetryable(new TokenRequestError('x', { reason: 'rejected', retryable: false, status: 401 }))).toBe(false);
    expect(isRetryable(new TokenResponseError('x', { field: '' }))).toBe(true);
    expect(isRetryable(foreignCopy(ErrorCode.TokenRequestFailed, { retryable: false }))).toBe(false);
    expect(isRetryable(foreignCopy(ErrorCode.TokenRequestFailed, { retryable: true }))).toBe(true);
  });

  it('should never retry configuration or origin errors, and retry unknown errors', () => {
    const configuration = instanceOf(ErrorCode.ConfigurationInvalid);
    const origin = instanceOf(ErrorCode.ForeignOrigin);
    expect(isRetryable(configuration)).toBe(false);
    expect(isRetryable(origin)).toBe(false);
    expect(isRetryable(foreignCopy(ErrorCode.ConfigurationInvalid))).toBe(false);
    expect(isRetryable(new TypeError('fetch failed'))).toBe(true);
    expect(isRetryable('boom')).toBe(true);
  });
});
