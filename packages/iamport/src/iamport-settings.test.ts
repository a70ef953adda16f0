import { inspect } from 'node:util';
import { type ConfigurationError, isConfigurationError } from '@x/core';
import { describeSettingsConformance } from '@x/core/testing/conformance';
import { describe, expect, it } from 'vitest';
import { iamportConformance } from '../test/iamport-conformance.js';
import { validateIamportSettings } from './iamport-settings.js';
import { createIamportProvider } from './iamport-token-provider.js';

const secret = 'ekKoeW8RyKuT0zgaZsUtXXTLQ4AhPFW3ZGseDA6bkA5lamv9';

describeSettingsConformance(iamportConformance);

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
