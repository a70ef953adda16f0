import { inspect } from 'node:util';
import { type ConfigurationError, isConfigurationError } from '@x/core';
import { describe, expect, it } from 'vitest';
import { validateIamportSettings } from './iamport-settings.js';
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
    expect(validateIamportSettings({ impKey: 'imp_apikey', impSecret: `${secret}\n` })).toEqual([
      { path: 'impSecret', message: 'must not start or end with whitespace' },
    ]);
  });

  it('should reject plain http to a remote host and URLs that are not an origin', () => {
    const issue = (baseUrl: string) => validateIamportSettings({ impKey: 'k', impSecret: 's', baseUrl })[0]?.message;
    expect(issue('http://api.iamport.kr')).toBe('must use https (http is allowed for localhost only)');
    expect(issue('https://api.iamport.kr/users')).toMatch(/must be an origin/);
    expect(issue('https://user:pass@api.iamport.kr')).toMatch(/must be an origin/);
  });

  it('should report a settings value that is not an object', () => {
    expect(validateIamportSettings(undefined)).toEqual([{ path: '', message: 'must be an object' }]);
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
