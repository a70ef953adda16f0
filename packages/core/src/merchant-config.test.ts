import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { type ConfigurationError, isConfigurationError, resolveMerchantConfig } from './index.js';
import { loadMerchantConfig } from './node/index.js';

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
      {
        path: 'merchants.shop-kr.impSecret',
        message: 'environment variable SHOP_KR_SECRET is not set',
        merchant: 'shop-kr',
      },
      {
        path: 'merchants.shop-no.clientSecret',
        message: 'environment variable SHOP_NO_SECRET is not set',
        merchant: 'shop-no',
      },
    ]);
  });

  it('should name the merchant on the error when every problem is one merchant', async () => {
    const one = await loadMerchantConfig(
      { merchants: { 'shop-kr': { provider: 'iamport', impKey: 'key', impSecret: { $env: 'A' }, other: { $env: 'B' } } } },
      { env: {} },
    ).catch((caught: unknown) => caught);
    expect(one).toMatchObject({ name: 'ConfigurationError', merchant: 'shop-kr' });
    expect((one as Error).message).toMatch(/^\[merchant shop-kr\] /);

    const two = await loadMerchantConfig(
      { merchants: { a: { provider: 'iamport', impSecret: { $env: 'A' } }, b: { provider: 'iamport', impSecret: { $env: 'B' } } } },
      { env: {} },
    ).catch((caught: unknown) => caught);
    expect(two).toMatchObject({ name: 'ConfigurationError', merchant: undefined });
  });

  it('should never quote the provider value, which it cannot tell from a misplaced secret', async () => {
    const error = await loadMerchantConfig(
      { merchants: { 'shop-kr': { provider: 'xcanary-not-a-provider', impSecret: { $env: 'A' } } } },
      { env: {} },
    ).catch((caught: unknown) => caught);
    expect(error).toMatchObject({ name: 'ConfigurationError', merchant: 'shop-kr', provider: undefined });
    expect(`${(error as Error).message}${JSON.stringify(error)}${inspect(error, { depth: Infinity })}`).not.toContain('xcanary');
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

describe('loadMerchantConfig with hostile input', () => {
  const errorOf = async (input: string | { merchants: unknown }, env: Record<string, string> = {}): Promise<ConfigurationError> => {
    let file = input;
    if (typeof input === 'string') {
      file = join(await mkdtemp(join(tmpdir(), 'x-config-')), 'merchants.json');
      await writeFile(file, input);
    }
    const error = await loadMerchantConfig(file, { env }).catch((caught: unknown) => caught);
    if (!isConfigurationError(error)) throw new Error(`expected a ConfigurationError, got ${String(error)}`);
    return error;
  };

  it('should refuse __proto__, constructor and prototype keys at every depth and pollute nothing', async () => {
    const error = await errorOf(`{
      "__proto__": { "polluted": "top" },
      "merchants": {
        "__proto__": { "provider": "iamport", "polluted": "merchant" },
        "constructor": { "prototype": { "polluted": "constructor" } },
        "shop-kr": {
          "provider": "iamport",
          "impKey": "key",
          "__proto__": { "polluted": "setting" },
          "nested": { "prototype": { "polluted": "deep" }, "list": [{ "__proto__": { "polluted": "array" } }] }
        }
      }
    }`);
    expect(error.issues.map((issue) => `${issue.path}: ${issue.message}`)).toEqual([
      'merchants.__proto__: merchant id is a reserved name (__proto__, constructor, prototype, …)',
      'merchants.constructor: merchant id is a reserved name (__proto__, constructor, prototype, …)',
      'merchants.shop-kr.__proto__: is a reserved name (__proto__, constructor, prototype, …), not a setting',
      'merchants.shop-kr.nested.prototype: is a reserved name (__proto__, constructor, prototype, …), not a setting',
      'merchants.shop-kr.nested.list.0.__proto__: is a reserved name (__proto__, constructor, prototype, …), not a setting',
    ]);
    expect(error.issues[2]).toMatchObject({ merchant: 'shop-kr' });
    expect(({} as { polluted?: unknown }).polluted).toBeUndefined();
    expect(Object.getOwnPropertyNames(Object.prototype)).not.toContain('polluted');
  });

  it('should resolve $env only from own, well-formed variable names', async () => {
    const env = Object.create({ INHERITED: 'xcanary-inherited' }) as Record<string, string>;
    env.SET = 'value';
    const error = await errorOf(
      {
        merchants: {
          m: {
            provider: 'iamport',
            a: { $env: 'constructor' },
            b: { $env: '__proto__' },
            c: { $env: 'INHERITED' },
            d: { $env: 'NAME\nINJECTED' },
            e: { $env: 'N'.repeat(1_000_000) },
            f: { $env: 42 },
            g: { $env: 'SET' },
          },
        },
      },
      env,
    );
    expect(error.issues.map((issue) => `${issue.path}: ${issue.message}`)).toEqual([
      'merchants.m.a: environment variable constructor is not set',
      'merchants.m.b: environment variable __proto__ is not set',
      'merchants.m.c: environment variable INHERITED is not set',
      'merchants.m.d: "$env" must name an environment variable (letters, digits and _, at most 256 characters)',
      'merchants.m.e: "$env" must name an environment variable (letters, digits and _, at most 256 characters)',
      'merchants.m.f: "$env" must name an environment variable (letters, digits and _, at most 256 characters)',
    ]);
    expect(error.message.length).toBeLessThan(2_000);
  });

  it('should refuse nesting deeper than the limit instead of overflowing the stack', async () => {
    const deep = `${'['.repeat(100_000)}${']'.repeat(100_000)}`;
    const error = await errorOf(`{"merchants": {"m": {"provider": "iamport", "deep": ${deep}}}}`);
    expect(error.issues).toEqual([
      { path: `merchants.m.deep${'.0'.repeat(15)}`, message: 'nested more than 16 levels deep', merchant: 'm' },
    ]);
  });

  it('should report invalid JSON by line and column, never quoting the text', async () => {
    const error = await errorOf('{"merchants": {"m": {"impSecret": "xcanary-secret" oops}}}');
    expect(error.message).toMatch(/is not valid JSON at line 1, column \d+$/);
    const unquoted = await errorOf('{"merchants": {"m": {"impSecret": xcanary-secret}}}');
    expect(unquoted.message).toMatch(/is not valid JSON$/);
    for (const text of [error.message, unquoted.message, JSON.stringify(unquoted), inspect(unquoted, { depth: Infinity })]) {
      expect(text).not.toContain('xcanary');
    }
  });

  it('should refuse merchant ids the registry would refuse, and merchants inherited from a prototype', async () => {
    const error = await errorOf({ merchants: { '': {}, 'shop\nkr': {}, ['m'.repeat(129)]: {} } });
    expect(error.issues.map((issue) => issue.message)).toEqual([
      'merchant id must not be empty',
      'merchant id must not contain control characters',
      'merchant id must be at most 128 characters',
    ]);
    const inherited = await errorOf(Object.create({ merchants: { m: { provider: 'iamport' } } }) as { merchants: unknown });
    expect(inherited.issues).toEqual([{ path: 'merchants', message: 'required: an object of merchant id to settings' }]);
  });
});

describe('resolveMerchantConfig', () => {
  it('should resolve an object at once, without reading a file', () => {
    const config = resolveMerchantConfig(
      { merchants: { 'shop-kr': { provider: 'iamport', impKey: 'key', impSecret: { $env: 'SECRET' } } } },
      { env: { SECRET: 's3cret' } },
    );
    expect(config.merchants['shop-kr']).toEqual({ provider: 'iamport', impKey: 'key', impSecret: 's3cret' });
  });

  it('should refuse a configuration without merchants', () => {
    expect(() => resolveMerchantConfig('merchants.json')).toThrow(/merchants: required/);
  });
});
