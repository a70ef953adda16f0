import { execFileSync } from 'node:child_process';
import { chmod, mkdir, mkdtemp, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
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

describe('loadMerchantConfig with $file secrets', () => {
  const canary = 'xcanary-file-secret';
  /** A folder with `merchants.json` (the given object) and the given secret files, relative to it. */
  const setUp = async (config: unknown, files: Record<string, string | Uint8Array> = {}): Promise<string> => {
    const directory = await mkdtemp(join(tmpdir(), 'x-config-'));
    for (const [name, content] of Object.entries(files)) {
      await mkdir(dirname(join(directory, name)), { recursive: true });
      await writeFile(join(directory, name), content);
    }
    await writeFile(join(directory, 'merchants.json'), JSON.stringify(config));
    return directory;
  };
  const errorOf = async (loading: Promise<unknown>): Promise<ConfigurationError> => {
    const error = await loading.catch((caught: unknown) => caught);
    if (!isConfigurationError(error)) throw new Error(`expected a ConfigurationError, got ${String(error)}`);
    for (const text of [error.message, JSON.stringify(error), inspect(error, { depth: Infinity })]) {
      expect(text).not.toContain('xcanary');
    }
    return error;
  };
  const shop = (impSecret: unknown): unknown => ({ merchants: { 'shop-kr': { provider: 'iamport', impKey: 'key', impSecret } } });

  it('should read a secret relative to the configuration file, not the working directory, trimming one newline', async () => {
    const directory = await setUp(
      {
        merchants: {
          a: { provider: 'iamport', impSecret: { $file: 'secrets/a' } },
          b: { provider: 'iamport', impSecret: { $file: 'secrets/b' } },
        },
      },
      { 'secrets/a': 'secret-a\n', 'secrets/b': 'secret-b\r\n' },
    );
    expect(process.cwd()).not.toBe(directory);
    const config = await loadMerchantConfig(join(directory, 'merchants.json'), { env: {} });
    expect(config.merchants).toEqual({
      a: { provider: 'iamport', impSecret: 'secret-a' },
      b: { provider: 'iamport', impSecret: 'secret-b' },
    });
    const fromUrl = await loadMerchantConfig(pathToFileURL(join(directory, 'merchants.json')), { env: {} });
    expect(fromUrl.merchants.a).toEqual({ provider: 'iamport', impSecret: 'secret-a' });
    const fromRelativePath = await loadMerchantConfig(relative(process.cwd(), join(directory, 'merchants.json')), { env: {} });
    expect(fromRelativePath.merchants.b).toEqual({ provider: 'iamport', impSecret: 'secret-b' });
  });

  it('should accept absolute paths and paths that leave the configuration folder', async () => {
    const secrets = await mkdtemp(join(tmpdir(), 'x-secrets-'));
    await writeFile(join(secrets, 'shop-kr'), 'absolute');
    const directory = await setUp(
      {
        merchants: {
          a: { provider: 'iamport', impSecret: { $file: join(secrets, 'shop-kr') } },
          b: { provider: 'iamport', impSecret: { $file: '../outside' } },
        },
      },
      { '../outside': 'outside\n' },
    );
    const config = await loadMerchantConfig(join(directory, 'merchants.json'), { env: {} });
    expect(config.merchants.a?.impSecret).toBe('absolute');
    expect(config.merchants.b?.impSecret).toBe('outside');
  });

  it('should resolve relative paths of an object against baseDir, and refuse them without it', async () => {
    const directory = await setUp({}, { 'secrets/shop-kr': 'from-base-dir\n' });
    const config = await loadMerchantConfig(shop({ $file: 'secrets/shop-kr' }) as { merchants: unknown }, { env: {}, baseDir: directory });
    expect(config.merchants['shop-kr']?.impSecret).toBe('from-base-dir');
    const absolute = await loadMerchantConfig(shop({ $file: join(directory, 'secrets/shop-kr') }) as { merchants: unknown }, { env: {} });
    expect(absolute.merchants['shop-kr']?.impSecret).toBe('from-base-dir');
    const error = await errorOf(loadMerchantConfig(shop({ $file: 'secrets/shop-kr' }) as { merchants: unknown }, { env: {} }));
    expect(error.issues).toEqual([
      {
        path: 'merchants.shop-kr.impSecret',
        message: '"$file" secrets/shop-kr is relative, and the configuration was given as an object: pass baseDir or use an absolute path',
        merchant: 'shop-kr',
      },
    ]);
  });

  it('should report every bad file at once, with merchant and path, never its content', async () => {
    const directory = await setUp(
      {
        merchants: {
          missing: { provider: 'iamport', impSecret: { $file: 'absent' } },
          folder: { provider: 'iamport', impSecret: { $file: 'secrets' } },
          empty: { provider: 'iamport', impSecret: { $file: 'secrets/empty' } },
          newline: { provider: 'iamport', impSecret: { $file: 'secrets/newline' } },
          large: { provider: 'iamport', impSecret: { $file: 'secrets/large' } },
          control: { provider: 'iamport', impSecret: { $file: 'secrets/control' } },
          lines: { provider: 'iamport', impSecret: { $file: 'secrets/lines' } },
          binary: { provider: 'iamport', impSecret: { $file: 'secrets/binary' } },
          loop: { provider: 'iamport', impSecret: { $file: 'loop' } },
          env: { provider: 'iamport', impSecret: { $env: 'UNSET' } },
        },
      },
      {
        'secrets/empty': '',
        'secrets/newline': '\n',
        'secrets/large': canary.repeat(4_000),
        'secrets/control': `${canary}\u0007`,
        'secrets/lines': `${canary}\n\n`,
        'secrets/binary': new Uint8Array([0x78, 0x63, 0x61, 0x6e, 0x61, 0x72, 0x79, 0xff]),
      },
    );
    await symlink(join(directory, 'loop'), join(directory, 'loop'));
    const error = await errorOf(loadMerchantConfig(join(directory, 'merchants.json'), { env: {} }));
    expect(error.issues.map((issue) => `${issue.merchant} ${issue.path}: ${issue.message}`)).toEqual([
      `missing merchants.missing.impSecret: "$file" ${join(directory, 'absent')} cannot be read (ENOENT)`,
      `folder merchants.folder.impSecret: "$file" ${join(directory, 'secrets')} is a directory, not a file`,
      `empty merchants.empty.impSecret: "$file" ${join(directory, 'secrets/empty')} is empty`,
      `newline merchants.newline.impSecret: "$file" ${join(directory, 'secrets/newline')} is empty`,
      `large merchants.large.impSecret: "$file" ${join(directory, 'secrets/large')} is larger than 64 KiB`,
      `control merchants.control.impSecret: "$file" ${join(directory, 'secrets/control')} contains control characters (one trailing line break is removed, no more)`,
      `lines merchants.lines.impSecret: "$file" ${join(directory, 'secrets/lines')} contains control characters (one trailing line break is removed, no more)`,
      `binary merchants.binary.impSecret: "$file" ${join(directory, 'secrets/binary')} is not UTF-8 text`,
      `loop merchants.loop.impSecret: "$file" ${join(directory, 'loop')} cannot be read (ELOOP)`,
      'env merchants.env.impSecret: environment variable UNSET is not set',
    ]);
  });

  it.skipIf(process.getuid?.() === 0)('should report a file it may not read', async () => {
    const directory = await setUp(shop({ $file: 'locked' }), { locked: canary });
    await chmod(join(directory, 'locked'), 0o000);
    const error = await errorOf(loadMerchantConfig(join(directory, 'merchants.json'), { env: {} }));
    expect(error.issues.map((issue) => issue.message)).toEqual([`"$file" ${join(directory, 'locked')} cannot be read (EACCES)`]);
  });

  it.skipIf(process.platform === 'win32')('should refuse a FIFO at once instead of waiting for a writer', async () => {
    const directory = await setUp(shop({ $file: 'fifo' }));
    execFileSync('mkfifo', [join(directory, 'fifo')]);
    const error = await errorOf(loadMerchantConfig(join(directory, 'merchants.json'), { env: {} }));
    expect(error.issues.map((issue) => issue.message)).toEqual([`"$file" ${join(directory, 'fifo')} is not a regular file`]);
  });

  it('should refuse malformed references and a reference with other keys beside it', async () => {
    const directory = await setUp(
      {
        merchants: {
          m: {
            provider: 'iamport',
            a: { $file: 'secret', other: canary },
            b: { $env: 'SET', other: canary },
            c: { $file: '' },
            d: { $file: 42 },
            e: { $file: 'bad\u0000name' },
            f: { $file: 'x'.repeat(5_000) },
            g: { $file: 'secret' },
          },
        },
      },
      { secret: 'fine' },
    );
    const error = await errorOf(loadMerchantConfig(join(directory, 'merchants.json'), { env: { SET: 'value' } }));
    const malformed = '"$file" must be a path to a file (at most 4096 characters, no control characters)';
    expect(error.issues.map((issue) => `${issue.path}: ${issue.message}`)).toEqual([
      'merchants.m.a: "$file" must be the only key of its object',
      'merchants.m.b: "$env" must be the only key of its object',
      `merchants.m.c: ${malformed}`,
      `merchants.m.d: ${malformed}`,
      `merchants.m.e: ${malformed}`,
      `merchants.m.f: ${malformed}`,
    ]);
  });
});

describe('resolveMerchantConfig with $file secrets', () => {
  it('should refuse $file, which only loadMerchantConfig reads, with every problem at once', () => {
    let error: unknown;
    try {
      resolveMerchantConfig(
        { merchants: { 'shop-kr': { provider: 'iamport', impKey: { $env: 'UNSET' }, impSecret: { $file: '/run/secrets/shop-kr' } } } },
        { env: {} },
      );
    } catch (caught) {
      error = caught;
    }
    expect(isConfigurationError(error)).toBe(true);
    expect((error as ConfigurationError).issues).toEqual([
      { path: 'merchants.shop-kr.impKey', message: 'environment variable UNSET is not set', merchant: 'shop-kr' },
      {
        path: 'merchants.shop-kr.impSecret',
        message: '"$file" is read by loadMerchantConfig from @x/core/node; resolveMerchantConfig reads no files',
        merchant: 'shop-kr',
      },
    ]);
  });
});
