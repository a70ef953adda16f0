import { inspect } from 'node:util';
import { type ConfigurationError, createMerchantRegistry, isConfigurationError } from '@x/core';
import { loadMerchantConfig } from '@x/core/node';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type IamportProviderSettings, validateIamportSettings } from './iamport-settings.js';
import { createIamportProvider } from './iamport-token-provider.js';

const secret = 'ekKoeW8RyKuT0zgaZsUtXXTLQ4AhPFW3ZGseDA6bkA5lamv9';

describe('validateIamportSettings', () => {
  it('should accept a key and secret, with or without a baseUrl', () => {
    expect(validateIamportSettings({ impKey: 'imp_apikey', impSecret: secret })).toEqual([]);
    expect(validateIamportSettings({ impKey: 'imp_apikey', impSecret: secret, baseUrl: 'https://api.iamport.kr/' })).toEqual([]);
    expect(validateIamportSettings({ impKey: 'imp_apikey', impSecret: secret, baseUrl: 'http://127.0.0.1:8080' })).toEqual([]);
  });

  it('should report every problem at once, with paths relative to the settings', () => {
    expect(validateIamportSettings({ impSecret: '', baseUrl: 'api.iamport.kr' })).toEqual([
      { path: 'impKey', message: 'required' },
      { path: 'impSecret', message: 'required' },
      { path: 'baseUrl', message: 'must be an absolute URL' },
    ]);
  });

  it('should reject values that are not strings without quoting them', () => {
    const issues = validateIamportSettings({ impKey: 1234, impSecret: { value: secret } });
    expect(issues).toEqual([
      { path: 'impKey', message: 'must be a string' },
      { path: 'impSecret', message: 'must be a string' },
    ]);
    expect(JSON.stringify(issues)).not.toContain(secret);
  });

  it('should reject credentials with surrounding whitespace (a copy-paste slip)', () => {
    expect(validateIamportSettings({ impKey: 'imp_apikey', impSecret: `${secret} ` })).toEqual([
      { path: 'impSecret', message: 'must not start or end with whitespace' },
    ]);
  });

  it('should reject plain http to a remote host and URLs that are not an origin', () => {
    const issue = (baseUrl: string) => validateIamportSettings({ impKey: 'k', impSecret: 's', baseUrl })[0]?.message;
    expect(issue('http://api.iamport.kr')).toMatch(/^must use https \(http is allowed for loopback hosts only/);
    expect(issue('https://api.iamport.kr/users')).toMatch(/must be an origin/);
    expect(issue('https://user:pass@api.iamport.kr')).toBe('must not contain credentials');
  });

  it('should report a settings value that is not an object', () => {
    expect(validateIamportSettings(undefined)).toEqual([{ path: '', message: 'must be an object' }]);
  });

  it('should refuse an unknown key such as baseURL, which would send the secret to the default host', () => {
    const settings = { impKey: 'imp_apikey', impSecret: secret, baseURL: 'http://127.0.0.1:9', imp_secret: secret };
    expect(validateIamportSettings(settings)).toEqual([
      { path: 'baseURL', message: 'unknown setting; did you mean "baseUrl"?' },
      { path: 'imp_secret', message: 'unknown setting; did you mean "impSecret"?' },
    ]);
    const error = errorOf(() => createIamportProvider(settings as IamportProviderSettings));
    expect(error.message).toBe(
      '[iamport] Invalid configuration:\n  baseURL: unknown setting; did you mean "baseUrl"?\n  imp_secret: unknown setting; did you mean "impSecret"?',
    );
    expect(`${JSON.stringify(error)}${inspect(error)}`).not.toMatch(/127\.0\.0\.1|ekKoeW8R/);
    const registryError = errorOf(() =>
      createMerchantRegistry({
        providers: { iamport: createIamportProvider },
        merchants: { 'shop-kr': { provider: 'iamport', ...settings } },
      }),
    );
    expect(registryError.issues.map((issue) => issue.path)).toEqual(['merchants.shop-kr.baseURL', 'merchants.shop-kr.imp_secret']);
  });
});

describe('createIamportProvider settings', () => {
  it('should throw a ConfigurationError naming the missing secret', () => {
    let error: unknown;
    try {
      createIamportProvider({ impKey: 'imp_apikey', impSecret: '' });
    } catch (caught) {
      error = caught;
    }
    expect(isConfigurationError(error)).toBe(true);
    const configurationError = error as ConfigurationError;
    expect(configurationError.message).toBe('[iamport] Invalid configuration: impSecret: required');
    expect(configurationError.path).toBe('impSecret');
    expect(configurationError.provider).toBe('iamport');
  });

  it('should never show the secret in a configuration error', () => {
    let error: unknown;
    try {
      createIamportProvider({ impKey: ` ${secret}`, impSecret: ` ${secret}`, baseUrl: `ftp://${secret}` });
    } catch (caught) {
      error = caught;
    }
    expect(isConfigurationError(error)).toBe(true);
    expect((error as ConfigurationError).issues.map((issue) => issue.path)).toEqual(['impKey', 'impSecret', 'baseUrl']);
    for (const text of [JSON.stringify(error), inspect(error, { depth: 10 }), (error as Error).message]) {
      expect(text).not.toContain(secret);
    }
  });

  it('should default baseUrl to https://api.iamport.kr and normalise it to an origin', () => {
    expect(createIamportProvider({ impKey: 'k', impSecret: 's' }).baseUrl).toBe('https://api.iamport.kr');
    expect(createIamportProvider({ impKey: 'k', impSecret: 's', baseUrl: 'https://API.iamport.kr/' }).baseUrl).toBe(
      'https://api.iamport.kr',
    );
  });
});

describe('i’mport settings from a hostile configuration', () => {
  const base = { impKey: 'imp_apikey', impSecret: `${secret}xcanary` };
  const issuesOf = (settings: unknown): Record<string, string> =>
    Object.fromEntries(validateIamportSettings(settings).map((issue) => [issue.path, issue.message]));

  it.each([
    ['a number', 42, 'must be a string'],
    ['an object', { value: 'xcanary' }, 'must be a string'],
    ['an array', ['xcanary'], 'must be a string'],
    ['null', null, 'must be a string'],
    ['empty', '', 'required'],
    ['1 MB long', 'x'.repeat(1_048_576), 'must be at most 1024 characters'],
    ['a CR/LF', 'xcanary\r\nX-Injected: 1', 'must not contain control characters (line breaks, NUL, …)'],
    ['a NUL', 'xcanary\u0000', 'must not contain control characters (line breaks, NUL, …)'],
    ['a C1 control', 'xcanary\u0085', 'must not contain control characters (line breaks, NUL, …)'],
  ])('should refuse an impSecret that is %s, without quoting it', (_name, impSecret, message) => {
    expect(issuesOf({ ...base, impSecret })).toEqual({ impSecret: message });
    expect(issuesOf({ ...base, impKey: impSecret })).toEqual({ impKey: message });
    const error = errorOf(() => createIamportProvider({ ...base, impSecret } as never));
    expect(error.provider).toBe('iamport');
    expect(error.path).toBe('impSecret');
    expect(`${error.message}${JSON.stringify(error)}${inspect(error, { depth: Infinity })}`).not.toContain('xcanary');
  });

  it('should accept credentials of exactly 1024 characters', () => {
    expect(issuesOf({ impKey: 'k'.repeat(1024), impSecret: 's'.repeat(1024) })).toEqual({});
  });

  it.each([
    ['not a URL', 'xcanary', 'must be an absolute URL'],
    ['credentials in it', 'https://user:xcanary@api.iamport.kr', 'must not contain credentials'],
    ['a query', 'https://api.iamport.kr/?key=xcanary', 'must be an origin, without path, query or fragment'],
    ['a fragment', 'https://api.iamport.kr/#xcanary', 'must be an origin, without path, query or fragment'],
    [
      'plain http to a remote host',
      'http://xcanary.example',
      'must use https (http is allowed for loopback hosts only: localhost, 127.0.0.0/8, [::1])',
    ],
    ['a file: URL', 'file:///xcanary', 'must be an http(s) URL'],
    ['a javascript: URL', 'javascript:xcanary()', 'must be an http(s) URL'],
    ['a line break', 'https://api.iamport.kr\n', 'must not contain whitespace or control characters'],
    ['a number', 443, 'must be a string'],
  ])('should refuse a baseUrl with %s', (_name, baseUrl, message) => {
    expect(issuesOf({ ...base, baseUrl })).toEqual({ baseUrl: message });
    expect(JSON.stringify(validateIamportSettings({ ...base, baseUrl }))).not.toContain('xcanary');
  });

  it.each(['http://127.0.0.1:8080', 'http://127.1.2.3', 'http://localhost:3000', 'http://[::1]:3000'])(
    'should allow plain http on the loopback host %s',
    (baseUrl) => {
      expect(createIamportProvider({ ...base, baseUrl }).baseUrl).toBe(new URL(baseUrl).origin);
    },
  );

  it('should refuse settings that are not an object', () => {
    for (const settings of [null, undefined, 42, 'xcanary', ['imp_apikey', 'xcanary']]) {
      expect(validateIamportSettings(settings)).toEqual([{ path: '', message: 'must be an object' }]);
    }
  });

  it('should refuse __proto__ and constructor keys in settings and pollute nothing', () => {
    const settings = JSON.parse(
      `{"impKey": "imp_apikey", "impSecret": "s", "__proto__": {"polluted": true, "baseUrl": "http://evil.example"}, "constructor": {"prototype": {"polluted": true}}}`,
    );
    expect(validateIamportSettings(settings)).toEqual([
      { path: '__proto__', message: 'is a reserved name (__proto__, constructor, prototype, …), not a setting' },
      { path: 'constructor', message: 'is a reserved name (__proto__, constructor, prototype, …), not a setting' },
    ]);
    expect(() => createIamportProvider(settings)).toThrowError(/__proto__/);
    expect(({} as { polluted?: unknown }).polluted).toBeUndefined();
  });

  it('should read own settings only: an inherited baseUrl is never used, a prototype-less object works', () => {
    const inherits = Object.assign(Object.create({ baseUrl: 'http://evil.example' }) as IamportProviderSettings, base);
    expect(createIamportProvider(inherits).baseUrl).toBe('https://api.iamport.kr');
    const bare = Object.assign(Object.create(null) as IamportProviderSettings, { ...base, baseUrl: 'http://127.0.0.1:1' });
    expect(createIamportProvider(bare).baseUrl).toBe('http://127.0.0.1:1');
  });

  it('should use the value it validated, even from a getter that answers differently the second time', () => {
    let reads = 0;
    const settings = {
      ...base,
      get baseUrl() {
        reads += 1;
        return reads === 1 ? 'https://api.iamport.kr' : 'http://evil.example';
      },
    };
    expect(createIamportProvider(settings).baseUrl).toBe('https://api.iamport.kr');
  });

  it('should answer any settings value with a provider or a ConfigurationError, never another error', () => {
    const value = fc.oneof(fc.string({ maxLength: 40 }), fc.anything({ withNullPrototype: true, withBigInt: true, withMap: true }));
    const settings = fc.oneof(
      fc.anything({ withNullPrototype: true, withObjectString: true, withBigInt: true }),
      fc.record(
        { impKey: value, impSecret: value, baseUrl: fc.oneof(value, fc.webUrl(), fc.constant('http://127.0.0.1:1')) },
        { requiredKeys: [] },
      ),
      fc.dictionary(fc.constantFrom('impKey', 'impSecret', 'baseUrl', '__proto__', 'constructor', 'prototype'), value),
    );
    let providers = 0;
    fc.assert(
      fc.property(settings, (candidate) => {
        try {
          const provider = createIamportProvider(candidate as IamportProviderSettings);
          expect(provider.baseUrl).toMatch(/^https:\/\/|^http:\/\/(127\.|localhost|\[::1\])/);
          providers += 1;
        } catch (error) {
          if (!isConfigurationError(error)) throw error;
          expect(error.issues.length).toBeGreaterThan(0);
        }
        expect(Object.getOwnPropertyNames(Object.prototype)).not.toContain('polluted');
      }),
      { numRuns: 1000 },
    );
    expect(providers).toBeGreaterThan(0);
    // 1,000 random settings: seconds on a loaded 2-core machine, not a time limit on the behaviour.
  }, 30_000);

  it('should reject hostile merchants from a JSON configuration with the merchant, provider and path', async () => {
    const { merchants } = await loadMerchantConfig(
      JSON.parse(`{"merchants": {
        "shop-kr": {"provider": "iamport", "impKey": "k", "impSecret": {"$env": "SECRET"}, "baseUrl": "http://api.iamport.kr"},
        "shop-ok": {"provider": "iamport", "impKey": "k", "impSecret": "s"}
      }}`),
      { env: { SECRET: 'xcanary\r\n' } },
    );
    const error = errorOf(() => createMerchantRegistry({ providers: { iamport: createIamportProvider }, merchants }));
    expect(error.issues).toEqual([
      {
        path: 'merchants.shop-kr.impSecret',
        message: 'must not contain control characters (line breaks, NUL, …)',
        merchant: 'shop-kr',
        provider: 'iamport',
      },
      {
        path: 'merchants.shop-kr.baseUrl',
        message: 'must use https (http is allowed for loopback hosts only: localhost, 127.0.0.0/8, [::1])',
        merchant: 'shop-kr',
        provider: 'iamport',
      },
    ]);
    expect(error.message).toMatch(/^\[iamport, merchant shop-kr\] Invalid configuration:/);
    expect(`${JSON.stringify(error)}${inspect(error, { depth: Infinity, showHidden: true })}`).not.toContain('xcanary');
  });
});

function errorOf(action: () => unknown): ConfigurationError {
  try {
    action();
  } catch (error) {
    if (isConfigurationError(error)) return error;
    throw error;
  }
  throw new Error('expected a ConfigurationError');
}
