import { inspect } from 'node:util';
import { isConfigurationError, isTokenRequestError } from '@x/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createVippsProvider, type VippsProviderSettings, validateVippsSettings } from './index.js';
import { createVippsEmulator } from './testing/index.js';

const valid: VippsProviderSettings = {
  clientId: 'fb492b5e-7907-4d83-ba20-c7fb60ca35de',
  clientSecret: 'secret-Y8Kteew6GE2ZmeycEt6egg==',
  subscriptionKey: 'key-0f14ebcab0ec4b29ae0cb90d91b4a84a',
  environment: 'test',
};

function issuesOf(settings: unknown): Record<string, string> {
  return Object.fromEntries(validateVippsSettings(settings).map((issue) => [issue.path, issue.message]));
}

describe('validateVippsSettings', () => {
  it('should accept complete settings', () => {
    expect(validateVippsSettings(valid)).toEqual([]);
    expect(
      validateVippsSettings({
        ...valid,
        merchantSerialNumber: '1234',
        systemName: 'acme',
        systemVersion: '3.1.2',
        pluginName: 'acme-webshop',
        pluginVersion: '4.5.6',
      }),
    ).toEqual([]);
  });

  it('should report every problem at once, with paths relative to the settings', () => {
    const issues = issuesOf({ clientId: '', merchantSerialNumber: '12', systemName: 'x'.repeat(31) });
    expect(issues).toEqual({
      clientId: 'must not be empty',
      clientSecret: 'required',
      subscriptionKey: "required for tokenEndpoint 'accesstoken'",
      merchantSerialNumber: 'must be 4 to 6 digits',
      systemName: 'must be at most 30 characters',
      environment: "required: set 'test' or 'production' (or set baseUrl)",
    });
  });

  it('should enforce the OpenAPI constraints on Merchant-Serial-Number and the Vipps-System-* headers', () => {
    expect(issuesOf({ ...valid, merchantSerialNumber: '1234567' })).toHaveProperty('merchantSerialNumber');
    expect(issuesOf({ ...valid, merchantSerialNumber: '12a4' })).toHaveProperty('merchantSerialNumber');
    expect(issuesOf({ ...valid, merchantSerialNumber: 123456 })).toHaveProperty('merchantSerialNumber');
    expect(issuesOf({ ...valid, merchantSerialNumber: '123456' })).toEqual({});
    for (const key of ['systemName', 'systemVersion', 'pluginName', 'pluginVersion']) {
      expect(issuesOf({ ...valid, [key]: 'x'.repeat(30) })).toEqual({});
      expect(issuesOf({ ...valid, [key]: 'x'.repeat(31) })).toEqual({ [key]: 'must be at most 30 characters' });
      expect(issuesOf({ ...valid, [key]: '' })).toEqual({ [key]: 'must not be empty (leave the setting out instead)' });
    }
  });

  it('should require environment or baseUrl, and refuse the two disagreeing', () => {
    const { environment: _, ...withoutHost } = valid;
    expect(issuesOf(withoutHost)).toHaveProperty('environment');
    expect(issuesOf({ ...withoutHost, baseUrl: 'https://api.vipps.no' })).toEqual({});
    expect(issuesOf({ ...valid, baseUrl: 'https://apitest.vipps.no/' })).toEqual({});
    expect(issuesOf({ ...valid, baseUrl: 'https://api.vipps.no' })).toEqual({
      baseUrl: "does not match environment 'test' (https://apitest.vipps.no); set only one of them",
    });
    expect(issuesOf({ ...valid, environment: 'staging' })).toEqual({ environment: "must be 'test' or 'production'" });
  });

  it('should refuse a base URL that could leak the client secret or drop a path', () => {
    const { environment: _, ...withoutHost } = valid;
    expect(issuesOf({ ...withoutHost, baseUrl: 'http://apitest.vipps.no' })).toEqual({
      baseUrl: 'must use https (http is allowed for loopback hosts only: localhost, 127.0.0.0/8, [::1])',
    });
    expect(issuesOf({ ...withoutHost, baseUrl: 'http://127.0.0.1:8080' })).toEqual({});
    expect(issuesOf({ ...withoutHost, baseUrl: 'apitest.vipps.no' })).toEqual({ baseUrl: 'must be an absolute URL' });
    expect(issuesOf({ ...withoutHost, baseUrl: 'https://proxy.example/vipps' })).toHaveProperty('baseUrl');
    expect(issuesOf({ ...withoutHost, baseUrl: 'https://user:pass@api.vipps.no' })).toEqual({ baseUrl: 'must not contain credentials' });
  });

  it('should make the subscription key optional for the partner endpoint only', () => {
    const { subscriptionKey: _, ...partner } = valid;
    expect(issuesOf({ ...partner, tokenEndpoint: 'partner' })).toEqual({});
    expect(issuesOf(partner)).toEqual({ subscriptionKey: "required for tokenEndpoint 'accesstoken'" });
    expect(issuesOf({ ...valid, tokenEndpoint: 'oauth' })).toEqual({ tokenEndpoint: "must be 'accesstoken' or 'partner'" });
  });

  it('should refuse header values fetch would reject, without quoting them', () => {
    const secret = 'line-one\nline-two-secret';
    const issues = validateVippsSettings({ ...valid, clientSecret: secret });
    expect(issues).toEqual([{ path: 'clientSecret', message: 'must only hold printable Latin-1 characters (no line breaks)' }]);
    expect(JSON.stringify(issues)).not.toContain('line-two-secret');
  });

  it('should report a settings value that is not an object', () => {
    expect(validateVippsSettings(undefined)).toEqual([{ path: '', message: 'must be an object' }]);
  });

  it('should refuse credentials with surrounding whitespace, which fetch would trim before sending', () => {
    expect(
      issuesOf({
        ...valid,
        clientId: ` ${valid.clientId}`,
        clientSecret: `${valid.clientSecret}\t`,
        subscriptionKey: `${valid.subscriptionKey} `,
      }),
    ).toEqual({
      clientId: 'must not start or end with whitespace',
      clientSecret: 'must not start or end with whitespace',
      subscriptionKey: 'must not start or end with whitespace',
    });
  });

  it('should refuse unknown keys, with a did-you-mean for near misses and never their values', () => {
    expect(issuesOf({ ...valid, baseURL: 'http://127.0.0.1:9', client_secret: 'x', merchantSerialNo: '123456', region: 'no' })).toEqual({
      baseURL: 'unknown setting; did you mean "baseUrl"?',
      client_secret: 'unknown setting; did you mean "clientSecret"?',
      merchantSerialNo: expect.stringMatching(/^unknown setting; the settings are: clientId, clientSecret, /),
      region: expect.stringMatching(/^unknown setting; the settings are: /),
    });
    expect(() => createVippsProvider({ ...valid, enviroment: 'production' } as VippsProviderSettings)).toThrowError(
      '[vipps] Invalid configuration: enviroment: unknown setting; did you mean "environment"?',
    );
  });
});

describe('createVippsProvider settings', () => {
  it('should throw a ConfigurationError naming the setting and never its value', () => {
    const secret = 'bad\u0000secret-value';
    let caught: unknown;
    try {
      createVippsProvider({ ...valid, clientSecret: secret, merchantSerialNumber: '12' });
    } catch (error) {
      caught = error;
    }
    expect(isConfigurationError(caught)).toBe(true);
    if (!isConfigurationError(caught)) return;
    expect(caught.provider).toBe('vipps');
    expect(caught.issues.map((issue) => issue.path)).toEqual(['clientSecret', 'merchantSerialNumber']);
    for (const text of [caught.message, JSON.stringify(caught), inspect(caught)]) {
      expect(text).not.toContain('secret-value');
      expect(text).toContain('clientSecret');
    }
  });

  it('should use the documented hosts for test and production', () => {
    expect(createVippsProvider(valid).baseUrl).toBe('https://apitest.vipps.no');
    expect(createVippsProvider({ ...valid, environment: 'production' }).baseUrl).toBe('https://api.vipps.no');
    expect(createVippsProvider({ ...valid, environment: 'production' }).tokenUrl).toBe('https://api.vipps.no/accesstoken/get');
    expect(createVippsProvider({ ...valid, tokenEndpoint: 'partner' }).tokenUrl).toBe('https://apitest.vipps.no/miami/v1/token');
  });
});

describe('Vipps settings from a hostile configuration', () => {
  const { environment: _, ...credentials } = valid;
  const base = { ...credentials, baseUrl: 'http://127.0.0.1:9' };

  it.each([
    ['a number', 42, 'must be a string'],
    ['an object', { value: 'xcanary' }, 'must be a string'],
    ['an array', ['xcanary'], 'must be a string'],
    ['null', null, 'must be a string'],
    ['1 MB long', 'x'.repeat(1_048_576), 'must be at most 1024 characters'],
    ['a CR/LF (a header injection)', 'xcanary\r\nX-Injected: 1', 'must only hold printable Latin-1 characters (no line breaks)'],
    ['a NUL', 'xcanary\u0000', 'must only hold printable Latin-1 characters (no line breaks)'],
    ['a character fetch cannot send in a header', 'xcanary\u20ac', 'must only hold printable Latin-1 characters (no line breaks)'],
  ])('should refuse clientSecret, clientId and subscriptionKey that are %s, without quoting them', (_name, value, message) => {
    for (const key of ['clientId', 'clientSecret', 'subscriptionKey']) {
      expect(issuesOf({ ...base, [key]: value })).toEqual({ [key]: message });
    }
    let caught: unknown;
    try {
      createVippsProvider({ ...base, clientSecret: value } as never);
    } catch (error) {
      caught = error;
    }
    expect(isConfigurationError(caught)).toBe(true);
    if (!isConfigurationError(caught)) return;
    expect(caught.provider).toBe('vipps');
    expect(caught.path).toBe('clientSecret');
    expect(`${caught.message}${JSON.stringify(caught)}${inspect(caught, { depth: Infinity, showHidden: true })}`).not.toContain('xcanary');
  });

  it.each([
    ['credentials in it', 'https://user:xcanary@apitest.vipps.no', 'must not contain credentials'],
    ['a query', 'https://apitest.vipps.no/?key=xcanary', 'must be an origin, without path, query or fragment'],
    ['a fragment', 'https://apitest.vipps.no#xcanary', 'must be an origin, without path, query or fragment'],
    [
      'plain http to a remote host',
      'http://xcanary.example',
      'must use https (http is allowed for loopback hosts only: localhost, 127.0.0.0/8, [::1])',
    ],
    ['a file: URL', 'file:///xcanary', 'must be an http(s) URL'],
    ['a javascript: URL', 'javascript:xcanary()', 'must be an http(s) URL'],
    ['a tab', 'https://apitest.\tvipps.no', 'must not contain whitespace or control characters'],
    ['2 KB and more', `https://${'a'.repeat(4096)}.no`, 'must be at most 2048 characters'],
    ['a number', 443, 'must be a string'],
  ])('should refuse a baseUrl with %s', (_name, baseUrl, message) => {
    expect(issuesOf({ ...credentials, baseUrl })).toEqual({ baseUrl: message });
    expect(JSON.stringify(validateVippsSettings({ ...credentials, baseUrl }))).not.toContain('xcanary');
  });

  it.each(['http://127.0.0.1:8080', 'http://127.9.9.9', 'http://localhost:3000', 'http://[::1]:3000'])(
    'should allow plain http on the loopback host %s',
    (baseUrl) => {
      expect(createVippsProvider({ ...credentials, baseUrl }).baseUrl).toBe(new URL(baseUrl).origin);
    },
  );

  it('should refuse settings that are not an object', () => {
    for (const settings of [null, 42, 'xcanary', [valid]]) {
      expect(validateVippsSettings(settings)).toEqual([{ path: '', message: 'must be an object' }]);
    }
  });

  it('should refuse __proto__ and constructor keys in settings and pollute nothing', () => {
    const settings = JSON.parse(
      `{"clientId": "id", "clientSecret": "s", "subscriptionKey": "k", "environment": "test",
        "__proto__": {"polluted": true}, "constructor": {"prototype": {"polluted": true}}}`,
    );
    expect(validateVippsSettings(settings)).toEqual([
      { path: '__proto__', message: 'is a reserved name (__proto__, constructor, prototype, …), not a setting' },
      { path: 'constructor', message: 'is a reserved name (__proto__, constructor, prototype, …), not a setting' },
    ]);
    expect(({} as { polluted?: unknown }).polluted).toBeUndefined();
  });

  it('should read own settings only: inherited settings are never used, a prototype-less object works', () => {
    const inherits = Object.assign(Object.create({ baseUrl: 'http://evil.example', environment: 'production' }), valid);
    const provider = createVippsProvider(inherits as VippsProviderSettings);
    expect(provider.baseUrl).toBe('https://apitest.vipps.no');
    const bare = Object.assign(Object.create(null) as VippsProviderSettings, valid);
    expect(createVippsProvider(bare).baseUrl).toBe('https://apitest.vipps.no');
  });

  it('should answer any settings value with a provider or a ConfigurationError, never another error', () => {
    const value = fc.oneof(fc.string({ maxLength: 40 }), fc.anything({ withNullPrototype: true, withBigInt: true }));
    const settings = fc.oneof(
      fc.anything({ withNullPrototype: true, withObjectString: true, withBigInt: true }),
      fc.record(
        {
          clientId: value,
          clientSecret: value,
          subscriptionKey: value,
          merchantSerialNumber: fc.oneof(value, fc.stringMatching(/^\d{4,6}$/)),
          environment: fc.oneof(value, fc.constantFrom('test', 'production', '__proto__', 'constructor')),
          baseUrl: fc.oneof(value, fc.webUrl(), fc.constant('http://127.0.0.1:1')),
          tokenEndpoint: fc.oneof(value, fc.constantFrom('accesstoken', 'partner', 'constructor')),
        },
        { requiredKeys: [] },
      ),
      fc.dictionary(fc.constantFrom('clientId', 'clientSecret', 'environment', '__proto__', 'constructor', 'prototype'), value),
      // Mostly valid settings, so providers are made too and the property is not only about refusals.
      fc.record({
        clientId: fc.string({ minLength: 1, maxLength: 40 }),
        clientSecret: fc.string({ minLength: 1, maxLength: 40 }),
        subscriptionKey: fc.string({ minLength: 1, maxLength: 40 }),
        environment: fc.constantFrom('test', 'production'),
      }),
    );
    let providers = 0;
    fc.assert(
      fc.property(settings, (candidate) => {
        try {
          createVippsProvider(candidate as VippsProviderSettings);
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

  it('should let fetch send every credential it accepts: a wrong one is a TokenRequestError, never a TypeError', async () => {
    const emulator = await createVippsEmulator();
    try {
      // Printable Latin-1 that neither starts nor ends with whitespace (U+00A0 included: trim() counts it).
      const headerText = fc.stringMatching(
        /^[\u0021-\u007e\u00a1-\u00ff](?:[\u0020-\u007e\u00a0-\u00ff\t]{0,59}[\u0021-\u007e\u00a1-\u00ff])?$/,
      );
      await fc.assert(
        fc.asyncProperty(headerText, headerText, headerText, async (clientId, clientSecret, subscriptionKey) => {
          const provider = createVippsProvider({ clientId, clientSecret, subscriptionKey, baseUrl: emulator.url });
          const context = { signal: new AbortController().signal, fetch: globalThis.fetch, now: Date.now };
          const error = await provider.requestToken(context).then(
            () => undefined,
            (caught: unknown) => caught,
          );
          expect(isTokenRequestError(error)).toBe(true);
        }),
        { numRuns: 100 },
      );
    } finally {
      await emulator.close();
    }
  });
});
