import { watch } from 'node:fs';
import { mkdir, mkdtemp, realpath, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { inspect } from 'node:util';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ConfigurationError, isConfigurationError, isRegistryClosedError, type MerchantSettings, RegistryClosedError } from '../index.js';
import { type MerchantConfigWatcher, type WatchMerchantConfigOptions, watchMerchantConfig } from './index.js';

const canary = 'xcanary-watch';

/** How long a test waits for the watcher to see a change: events arrive in milliseconds; this is a ceiling, not a delay. */
const seen = { timeout: 2_000, interval: 10 };

type Merchants = Readonly<Record<string, MerchantSettings>>;

/**
 * A registry as small as the watcher needs: it keeps what `reload` gave it, and refuses, all or nothing, a merchant
 * whose `provider` it does not know (as the real registry does, without quoting it).
 */
function createStandIn() {
  const reloads: Merchants[] = [];
  return {
    reloads,
    closed: false,
    /** The secret each reload gave shop-kr. */
    secrets: () => reloads.map((merchants) => merchants['shop-kr']?.impSecret),
    async reload(merchants: Merchants): Promise<{ merchants: string[] }> {
      if (this.closed) throw new RegistryClosedError();
      const unknown = Object.keys(merchants).find((id) => merchants[id]?.provider !== 'iamport');
      if (unknown !== undefined) {
        throw new ConfigurationError({
          issues: [{ path: `merchants.${unknown}.provider`, message: 'unknown provider', merchant: unknown }],
        });
      }
      reloads.push(merchants);
      return { merchants: Object.keys(merchants) };
    },
  };
}

const shop = (impSecret: unknown, extra: Record<string, unknown> = {}) => ({
  merchants: { 'shop-kr': { provider: 'iamport', impKey: 'key-kr', impSecret, ...extra } },
});

async function folder(prefix = 'x-watch-'): Promise<string> {
  return realpath(await mkdtemp(join(tmpdir(), prefix)));
}

async function write(file: string, content: unknown): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  await writeFile(file, typeof content === 'string' ? content : JSON.stringify(content));
}

/** Saves as editors that write a new file and rename it over the old one do. */
async function saveByRename(file: string, content: unknown): Promise<void> {
  await write(`${file}.tmp`, content);
  await rename(`${file}.tmp`, file);
}

function expectNoCanary(error: unknown): void {
  for (const text of [String(error), JSON.stringify(error), inspect(error, { depth: Infinity })]) expect(text).not.toContain('xcanary');
}

const watchers: MerchantConfigWatcher[] = [];
afterEach(async () => {
  // A spy on the fake setTimeout first, then the real timers back, so no later test's watcher gets a fake one.
  vi.restoreAllMocks();
  vi.useRealTimers();
  await Promise.all(watchers.splice(0).map((watcher) => watcher.close()));
});

async function start<Result>(
  path: string,
  registry: { reload(merchants: Merchants): Promise<Result> },
  options: WatchMerchantConfigOptions<Result> = {},
): Promise<{ errors: Error[]; results: Result[] }> {
  const errors: Error[] = [];
  const results: Result[] = [];
  const watcher = await watchMerchantConfig(path, registry, {
    env: {},
    debounceMs: 20,
    onError: (error) => errors.push(error),
    onReload: (result) => results.push(result),
    ...options,
  });
  watchers.push(watcher);
  return { errors, results };
}

describe('watchMerchantConfig', () => {
  it('should load once at start, then reload on every edit, in place or by rename', async () => {
    const directory = await folder();
    const file = join(directory, 'merchants.json');
    await write(file, shop(`${canary}-1`));
    const registry = createStandIn();
    const { errors, results } = await start(file, registry);
    expect(registry.secrets()).toEqual([`${canary}-1`]);
    expect(results).toEqual([{ merchants: ['shop-kr'] }]);

    await write(file, shop(`${canary}-2`));
    await vi.waitFor(() => expect(registry.secrets().at(-1)).toBe(`${canary}-2`), seen);
    // After a rename, a watch on the old file's inode would see nothing more: the folder is watched.
    await saveByRename(file, shop(`${canary}-3`));
    await vi.waitFor(() => expect(registry.secrets().at(-1)).toBe(`${canary}-3`), seen);
    await saveByRename(file, shop(`${canary}-4`));
    await vi.waitFor(() => expect(registry.secrets().at(-1)).toBe(`${canary}-4`), seen);
    expect(errors).toEqual([]);
  });

  it('should read secret files again when one of them changes, in another folder too', async () => {
    const directory = await folder();
    const secrets = await folder('x-watch-secrets-');
    const file = join(directory, 'merchants.json');
    await write(join(secrets, 'shop-kr'), `${canary}-1\n`);
    await write(file, shop({ $file: join(secrets, 'shop-kr') }));
    const registry = createStandIn();
    await start(file, registry);
    expect(registry.secrets()).toEqual([`${canary}-1`]);

    await write(join(secrets, 'shop-kr'), `${canary}-2\n`);
    await vi.waitFor(() => expect(registry.secrets().at(-1)).toBe(`${canary}-2`), seen);
    await saveByRename(join(secrets, 'shop-kr'), `${canary}-3\n`);
    await vi.waitFor(() => expect(registry.secrets().at(-1)).toBe(`${canary}-3`), seen);
  });

  it('should follow a Kubernetes secret volume, whose ..data symlink is swapped', async () => {
    const directory = await folder();
    const mount = join(directory, 'secrets');
    // The kubelet's layout: a timestamped folder, `..data` pointing at it, and each key a symlink through `..data`.
    const publish = async (version: number, previous?: number): Promise<void> => {
      await write(join(mount, `..2026_0${version}`, 'shop-kr'), `${canary}-${version}`);
      await symlink(`..2026_0${version}`, join(mount, '..data_tmp'));
      await rename(join(mount, '..data_tmp'), join(mount, '..data'));
      if (previous !== undefined) await rm(join(mount, `..2026_0${previous}`), { recursive: true });
    };
    await publish(1);
    await symlink(join('..data', 'shop-kr'), join(mount, 'shop-kr'));
    await write(join(directory, 'merchants.json'), shop({ $file: 'secrets/shop-kr' }));
    const registry = createStandIn();
    const { errors } = await start(join(directory, 'merchants.json'), registry);
    expect(registry.secrets()).toEqual([`${canary}-1`]);

    // The swap alone, the old version left in place: only the `..data` entries change.
    await publish(2);
    await vi.waitFor(() => expect(registry.secrets().at(-1)).toBe(`${canary}-2`), seen);
    await rm(join(mount, '..2026_01'), { recursive: true });
    await publish(3, 2);
    await vi.waitFor(() => expect(registry.secrets().at(-1)).toBe(`${canary}-3`), seen);
    expect(errors).toEqual([]);
  });

  it('should see a file behind a symlink edited in place, in the symlink target’s folder', async () => {
    const directory = await folder();
    const elsewhere = await folder('x-watch-target-');
    await write(join(elsewhere, 'merchants.json'), shop(`${canary}-1`));
    await symlink(join(elsewhere, 'merchants.json'), join(directory, 'merchants.json'));
    const registry = createStandIn();
    await start(join(directory, 'merchants.json'), registry);
    expect(registry.secrets()).toEqual([`${canary}-1`]);

    await write(join(elsewhere, 'merchants.json'), shop(`${canary}-2`));
    await vi.waitFor(() => expect(registry.secrets().at(-1)).toBe(`${canary}-2`), seen);
  });

  it('should report a bad edit through onError, never a secret, and keep the configuration in force', async () => {
    const directory = await folder();
    const file = join(directory, 'merchants.json');
    await write(join(directory, 'secrets/shop-kr'), `${canary}-1`);
    await write(file, shop({ $file: 'secrets/shop-kr' }));
    const registry = createStandIn();
    const { errors } = await start(file, registry);

    await write(file, `{ "merchants": { "shop-kr": "${canary}`);
    await vi.waitFor(() => expect(errors).toHaveLength(1), seen);
    expect(errors[0]).toMatchObject({ name: 'ConfigurationError', path: file });
    expect((errors[0] as ConfigurationError).issues[0]?.message).toMatch(/^is not valid JSON at line 1/);

    await write(file, shop({ $file: 'secrets/absent' }));
    await vi.waitFor(() => expect(errors).toHaveLength(2), seen);
    expect((errors[1] as ConfigurationError).issues).toEqual([
      {
        path: 'merchants.shop-kr.impSecret',
        message: `"$file" ${join(directory, 'secrets/absent')} cannot be read (ENOENT)`,
        merchant: 'shop-kr',
      },
    ]);

    // A bad entry the registry refuses: the registry's own error.
    await write(file, shop({ $file: 'secrets/shop-kr' }, { provider: canary }));
    await vi.waitFor(() => expect(errors).toHaveLength(3), seen);
    expect(errors[2]).toMatchObject({ name: 'ConfigurationError', merchant: 'shop-kr' });

    for (const error of errors) {
      expect(isConfigurationError(error)).toBe(true);
      expectNoCanary(error);
    }
    expect(registry.secrets()).toEqual([`${canary}-1`]);

    await write(join(directory, 'secrets/shop-kr'), `${canary}-2`);
    await write(file, shop({ $file: 'secrets/shop-kr' }));
    await vi.waitFor(() => expect(registry.secrets().at(-1)).toBe(`${canary}-2`), seen);
  });

  it('should pick up a secret file, and its folder, created after the configuration named them', async () => {
    const directory = await folder();
    const file = join(directory, 'merchants.json');
    await write(file, shop({ $file: 'later/deeper/shop-kr' }));
    const registry = createStandIn();
    const { errors } = await start(file, registry);
    expect(registry.reloads).toEqual([]);
    expect(errors.map((error) => (error as ConfigurationError).issues[0]?.message)).toEqual([
      `"$file" ${join(directory, 'later/deeper/shop-kr')} cannot be read (ENOENT)`,
    ]);

    await mkdir(join(directory, 'later'));
    await vi.waitFor(() => expect(errors).toHaveLength(2), seen);
    await write(join(directory, 'later/deeper/shop-kr'), `${canary}-1`);
    await vi.waitFor(() => expect(registry.secrets()).toEqual([`${canary}-1`]), seen);
  });

  it('should wait for the files to be quiet for debounceMs, then load once', async () => {
    const directory = await folder();
    const file = join(directory, 'merchants.json');
    await write(file, shop(`${canary}-0`));
    const registry = createStandIn();
    await start(file, registry, { debounceMs: 1_000 });
    // Timers only: fs.watch's events are not timers, so they still arrive.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const armed = vi.spyOn(globalThis, 'setTimeout');
    for (let version = 1; version <= 3; version += 1) await write(file, shop(`${canary}-${version}`));
    await vi.waitFor(() => expect(armed).toHaveBeenCalled(), { ...seen, interval: 0 });
    vi.advanceTimersByTime(999);
    expect(vi.getTimerCount()).toBe(1);

    // Another edit starts the wait again: 999 ms after it, 1,998 ms after the first, nothing is loaded yet.
    const calls = armed.mock.calls.length;
    await write(file, shop(`${canary}-4`));
    await vi.waitFor(() => expect(armed.mock.calls.length).toBeGreaterThan(calls), { ...seen, interval: 0 });
    vi.advanceTimersByTime(999);
    expect(vi.getTimerCount()).toBe(1);
    expect(registry.reloads).toHaveLength(1);
    vi.advanceTimersByTime(1);
    await vi.waitFor(() => expect(registry.secrets()).toEqual([`${canary}-0`, `${canary}-4`]), seen);
  });

  it('should keep watching the same files after the working directory changes', async () => {
    const directory = await folder();
    // Deeper than the test's own working directory, so the relative path cannot lead to the same file from there.
    const elsewhere = join(await folder('x-elsewhere-'), 'a', 'b', 'c', 'd', 'e', 'f');
    await mkdir(elsewhere, { recursive: true });
    await write(join(directory, 'secrets/shop-kr'), `${canary}-1`);
    await write(join(directory, 'merchants.json'), shop({ $file: 'secrets/shop-kr' }));
    const registry = createStandIn();
    const before = process.cwd();
    try {
      await start(relative(before, join(directory, 'merchants.json')), registry);
      process.chdir(elsewhere);
      await write(join(directory, 'secrets/shop-kr'), `${canary}-2`);
      await vi.waitFor(() => expect(registry.secrets().at(-1)).toBe(`${canary}-2`), seen);
    } finally {
      process.chdir(before);
    }
  });

  it('should stop every watcher and timer on close, and on abort', async () => {
    const directory = await folder();
    const file = join(directory, 'merchants.json');
    await write(file, shop(`${canary}-0`));
    for (const how of ['close', 'abort'] as const) {
      const registry = createStandIn();
      const controller = new AbortController();
      const watcher = await watchMerchantConfig(file, registry, { env: {}, debounceMs: 1_000, signal: controller.signal });
      vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
      await write(file, shop(`${canary}-1`));
      await vi.waitFor(() => expect(vi.getTimerCount()).toBe(1), { ...seen, interval: 0 });
      if (how === 'close') await watcher.close();
      else controller.abort();
      expect(vi.getTimerCount()).toBe(0);

      // A watcher of the test's own sees the next edit; the closed one, which would have seen it too, must not.
      const sentinel = watch(directory);
      const edited = new Promise((resolve) => sentinel.once('change', resolve));
      await write(file, shop(`${canary}-2`));
      await edited;
      sentinel.close();
      await new Promise((resolve) => setImmediate(resolve));
      expect(vi.getTimerCount()).toBe(0);
      vi.advanceTimersByTime(10_000);
      vi.useRealTimers();
      expect(registry.reloads).toHaveLength(1);
      await watcher.close();
    }
  });

  it('should stop watching once the registry is closed, reporting it once', async () => {
    const directory = await folder();
    const file = join(directory, 'merchants.json');
    await write(file, shop(`${canary}-0`));
    const registry = createStandIn();
    const { errors } = await start(file, registry);
    registry.closed = true;
    await write(file, shop(`${canary}-1`));
    await vi.waitFor(() => expect(errors).toHaveLength(1), seen);
    expect(isRegistryClosedError(errors[0])).toBe(true);

    // Nothing is watched any more: the edit a watcher of the test's own sees schedules no load.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const sentinel = watch(directory);
    const edited = new Promise((resolve) => sentinel.once('change', resolve));
    await write(file, shop(`${canary}-2`));
    await edited;
    sentinel.close();
    await new Promise((resolve) => setImmediate(resolve));
    expect(vi.getTimerCount()).toBe(0);
    expect(errors).toHaveLength(1);
  });

  it('should refuse at once a signal already aborted and a bad debounceMs', async () => {
    const directory = await folder();
    const file = join(directory, 'merchants.json');
    await write(file, shop('secret'));
    const registry = createStandIn();
    const reason = new Error('stopped');
    await expect(watchMerchantConfig(file, registry, { signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
    for (const debounceMs of [-1, Number.NaN, 2 ** 31]) {
      const error = await watchMerchantConfig(file, registry, { debounceMs }).catch((caught: unknown) => caught);
      expect(error).toMatchObject({ name: 'ConfigurationError', path: 'debounceMs' });
    }
    expect(registry.reloads).toEqual([]);
  });

  it('should warn through process warnings without an onError', async () => {
    const directory = await folder();
    const file = join(directory, 'merchants.json');
    await write(file, `{ "merchants": "${canary}`);
    const warnings: Error[] = [];
    const onWarning = (warning: Error): void => {
      warnings.push(warning);
    };
    process.on('warning', onWarning);
    try {
      watchers.push(await watchMerchantConfig(file, createStandIn(), { env: {} }));
      await vi.waitFor(() => expect(warnings).toHaveLength(1), seen);
      expect(isConfigurationError(warnings[0])).toBe(true);
      expectNoCanary(warnings[0]);
    } finally {
      process.off('warning', onWarning);
    }
  });
});
