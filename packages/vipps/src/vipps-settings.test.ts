import { inspect } from 'node:util';
import { isConfigurationError } from '@x/core';
import { describe, expect, it } from 'vitest';
import { createVippsProvider, type VippsProviderSettings, validateVippsSettings } from './index.js';

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
      baseUrl: 'must use https (http is allowed for localhost only)',
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
    expect(validateVippsSettings(undefined)).toEqual([{ path: '', message: 'settings must be an object' }]);
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
