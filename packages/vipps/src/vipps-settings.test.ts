import { inspect } from 'node:util';
import { isConfigurationError, isTokenRequestError } from '@x/core';
import { describeSettingsConformance } from '@x/core/testing/conformance';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { vippsConformance } from '../test/vipps-conformance.js';
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

describeSettingsConformance(vippsConformance);

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

  it('should make the subscription key optional for the partner endpoint only', () => {
    const { subscriptionKey: _, ...partner } = valid;
    expect(issuesOf({ ...partner, tokenEndpoint: 'partner' })).toEqual({});
    expect(issuesOf(partner)).toEqual({ subscriptionKey: "required for tokenEndpoint 'accesstoken'" });
    expect(issuesOf({ ...valid, tokenEndpoint: 'oauth' })).toEqual({ tokenEndpoint: "must be 'accesstoken' or 'partner'" });
  });

  it('should refuse a colon in the partner clientId, where the Basic credential would split it', () => {
    expect(issuesOf({ ...valid, clientId: 'fb492b5e:7907', tokenEndpoint: 'partner' })).toEqual({
      clientId: "must not contain ':' for tokenEndpoint 'partner' (the Basic credential splits at the first colon)",
    });
    expect(issuesOf({ ...valid, clientId: 'fb492b5e:7907' })).toEqual({});
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
