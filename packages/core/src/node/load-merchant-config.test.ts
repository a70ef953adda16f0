import { mkdir, mkdtemp, realpath, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { type ConfigurationError, isConfigurationError } from '../index.js';
import { loadMerchantConfig } from './index.js';

const canary = 'xcanary-resolve-merchant';

/** A folder with `merchants.json` (the given object) and the given files, relative to it. */
async function setUp(config: unknown, files: Record<string, string> = {}): Promise<string> {
  // The real path: a temporary folder behind a symlink (macOS) must not differ from what the loader resolves.
  const directory = await realpath(await mkdtemp(join(tmpdir(), 'x-resolve-')));
  await write(directory, files);
  await writeFile(join(directory, 'merchants.json'), JSON.stringify(config));
  return directory;
}

async function write(directory: string, files: Record<string, string>): Promise<void> {
  for (const [name, content] of Object.entries(files)) {
    await mkdir(dirname(join(directory, name)), { recursive: true });
    await writeFile(join(directory, name), content);
  }
}

async function errorOf(pending: Promise<unknown>): Promise<ConfigurationError> {
  const error = await pending.catch((caught: unknown) => caught);
  if (!isConfigurationError(error)) throw new Error(`expected a ConfigurationError, got ${String(error)}`);
  for (const text of [error.message, JSON.stringify(error), inspect(error, { depth: Infinity })]) expect(text).not.toContain('xcanary');
  return error;
}

const context = (): { signal: AbortSignal } => ({ signal: new AbortController().signal });

const twoShops = (kr: Record<string, unknown>, no: Record<string, unknown> = { impSecret: { $file: 'secrets/shop-no' } }) => ({
  merchants: {
    'shop-kr': { provider: 'iamport', impKey: 'key-kr', impSecret: { $file: 'secrets/shop-kr' }, ...kr },
    'shop-no': { provider: 'iamport', impKey: 'key-no', ...no },
  },
});

describe('loadMerchantConfig().resolveMerchant', () => {
  it('should read the configuration file and the merchant’s secret files again', async () => {
    const directory = await setUp(twoShops({}), { 'secrets/shop-kr': `${canary}-1\n`, 'secrets/shop-no': `${canary}-no\n` });
    const config = await loadMerchantConfig(join(directory, 'merchants.json'), { env: {} });
    expect(config.merchants['shop-kr']?.impSecret).toBe(`${canary}-1`);

    await write(directory, { 'secrets/shop-kr': `${canary}-2\n` });
    await writeFile(join(directory, 'merchants.json'), JSON.stringify(twoShops({ impKey: 'key-kr-2' })));
    expect(await config.resolveMerchant!('shop-kr', context())).toEqual({
      provider: 'iamport',
      impKey: 'key-kr-2',
      impSecret: `${canary}-2`,
    });
    // The configuration it was loaded with is left as it was.
    expect(config.merchants['shop-kr']?.impSecret).toBe(`${canary}-1`);
  });

  it('should resolve undefined for a merchant the file no longer has, or never had', async () => {
    const directory = await setUp(twoShops({}), { 'secrets/shop-kr': canary, 'secrets/shop-no': canary });
    const config = await loadMerchantConfig(join(directory, 'merchants.json'), { env: {} });
    await writeFile(join(directory, 'merchants.json'), JSON.stringify({ merchants: { 'shop-no': twoShops({}).merchants['shop-no'] } }));
    expect(await config.resolveMerchant!('shop-kr', context())).toBeUndefined();
    expect(await config.resolveMerchant!('__proto__', context())).toBeUndefined();
    expect(await config.resolveMerchant!('toString', context())).toBeUndefined();
  });

  it('should read only that merchant’s secrets, and reject its bad entry naming it, never a value', async () => {
    const directory = await setUp(twoShops({}), { 'secrets/shop-kr': canary, 'secrets/shop-no': canary });
    const config = await loadMerchantConfig(join(directory, 'merchants.json'), { env: {} });
    await rm(join(directory, 'secrets/shop-no'));
    await writeFile(
      join(directory, 'merchants.json'),
      JSON.stringify(twoShops({ impKey: { $env: 'UNSET' } }, { impSecret: { $file: 'secrets/shop-no' }, provider: canary })),
    );
    // shop-no's secret file is gone, which is no concern of shop-kr's.
    const error = await errorOf(config.resolveMerchant!('shop-kr', context()));
    expect(error.merchant).toBe('shop-kr');
    expect(error.issues).toEqual([
      { path: 'merchants.shop-kr.impKey', message: 'environment variable UNSET is not set', merchant: 'shop-kr' },
    ]);

    const missing = await errorOf(config.resolveMerchant!('shop-no', context()));
    expect(missing.merchant).toBe('shop-no');
    expect(missing.issues.map((issue) => issue.message)).toEqual([`"$file" ${join(directory, 'secrets/shop-no')} cannot be read (ENOENT)`]);
  });

  it('should reject a file that is no longer JSON, naming the merchant, and keep no merchant from it', async () => {
    const directory = await setUp(twoShops({}), { 'secrets/shop-kr': canary, 'secrets/shop-no': canary });
    const config = await loadMerchantConfig(join(directory, 'merchants.json'), { env: {} });
    await writeFile(join(directory, 'merchants.json'), `{ "merchants": { "shop-kr": "${canary}`);
    const error = await errorOf(config.resolveMerchant!('shop-kr', context()));
    expect(error).toMatchObject({ merchant: 'shop-kr', path: join(directory, 'merchants.json') });
    expect(error.issues[0]?.message).toMatch(/^is not valid JSON/);
    await rm(join(directory, 'merchants.json'));
    expect((await errorOf(config.resolveMerchant!('shop-kr', context()))).issues[0]?.message).toBe('cannot be read (ENOENT)');
  });

  it('should reject with the signal’s reason once it is aborted', async () => {
    const directory = await setUp(twoShops({}), { 'secrets/shop-kr': canary, 'secrets/shop-no': canary });
    const config = await loadMerchantConfig(join(directory, 'merchants.json'), { env: {} });
    const reason = new Error('gave up');
    await expect(config.resolveMerchant!('shop-kr', { signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
    const controller = new AbortController();
    const pending = config.resolveMerchant!('shop-kr', { signal: controller.signal });
    controller.abort(reason);
    await expect(pending).rejects.toBe(reason);
  });

  it('should resolve many merchants at once, each with its own secrets', async () => {
    const directory = await setUp(twoShops({}), { 'secrets/shop-kr': `${canary}-kr`, 'secrets/shop-no': `${canary}-no` });
    const config = await loadMerchantConfig(join(directory, 'merchants.json'), { env: {} });
    const [kr, no, again] = await Promise.all(
      ['shop-kr', 'shop-no', 'shop-kr'].map((merchantId) => config.resolveMerchant!(merchantId, context())),
    );
    expect([kr?.impSecret, no?.impSecret, again?.impSecret]).toEqual([`${canary}-kr`, `${canary}-no`, `${canary}-kr`]);
  });

  it('should keep reading the same files after the working directory changes', async () => {
    const directory = await setUp(twoShops({}), { 'secrets/shop-kr': `${canary}-1`, 'secrets/shop-no': canary });
    // Deeper than the test's own working directory, so the relative path cannot lead to the same file from there.
    const elsewhere = join(await realpath(await mkdtemp(join(tmpdir(), 'x-elsewhere-'))), 'a', 'b', 'c', 'd', 'e', 'f');
    await mkdir(elsewhere, { recursive: true });
    const before = process.cwd();
    try {
      const config = await loadMerchantConfig(relative(before, join(directory, 'merchants.json')), { env: {} });
      process.chdir(elsewhere);
      await write(directory, { 'secrets/shop-kr': `${canary}-2` });
      expect((await config.resolveMerchant!('shop-kr', context()))?.impSecret).toBe(`${canary}-2`);
    } finally {
      process.chdir(before);
    }
  });

  it('should be absent for a configuration given as an object', async () => {
    const config = await loadMerchantConfig({ merchants: { 'shop-kr': { provider: 'iamport', impKey: 'key' } } });
    expect(config.resolveMerchant).toBeUndefined();
    expect(Object.keys(config)).toEqual(['merchants']);
  });
});
