import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type ConfigurationError, isConfigurationError, loadMerchantConfig } from './index.js';

describe('loadMerchantConfig', () => {
  it('should read a JSON file and resolve $env references', async () => {
    const directory = await mkdtemp(join(tmpdir(), 'x-config-'));
    const file = join(directory, 'merchants.json');
    await writeFile(
      file,
      JSON.stringify({ merchants: { 'shop-kr': { provider: 'iamport', impKey: 'key', impSecret: { $env: 'SHOP_KR_SECRET' } } } }),
    );
    const config = await loadMerchantConfig(file, { env: { SHOP_KR_SECRET: 's3cret' } });
    expect(config.merchants['shop-kr']).toEqual({ provider: 'iamport', impKey: 'key', impSecret: 's3cret' });
  });

  it('should report every missing variable with merchant, path and variable name', async () => {
    const error = await loadMerchantConfig(
      {
        merchants: {
          'shop-kr': { provider: 'iamport', impKey: 'key', impSecret: { $env: 'SHOP_KR_SECRET' } },
          'shop-no': { provider: 'vipps', clientSecret: { $env: 'SHOP_NO_SECRET' }, subscriptionKey: { $env: 'SHOP_NO_KEY' } },
        },
      },
      { env: { SHOP_NO_KEY: 'present' } },
    ).catch((caught: unknown) => caught);
    expect(isConfigurationError(error)).toBe(true);
    expect((error as ConfigurationError).issues).toEqual([
      { path: 'merchants.shop-kr.impSecret', message: 'environment variable SHOP_KR_SECRET is not set' },
      { path: 'merchants.shop-no.clientSecret', message: 'environment variable SHOP_NO_SECRET is not set' },
    ]);
  });

  it('should give a configuration error for a missing file or invalid JSON', async () => {
    const directory = await mkdtemp(join(tmpdir(), 'x-config-'));
    await expect(loadMerchantConfig(join(directory, 'absent.json'))).rejects.toThrow(/cannot be read \(ENOENT\)/);
    const file = join(directory, 'broken.json');
    await writeFile(file, '{ "merchants": ');
    await expect(loadMerchantConfig(file)).rejects.toThrow(/is not valid JSON/);
    await expect(loadMerchantConfig({ merchants: [] })).rejects.toThrow(/merchants: required/);
  });
});
