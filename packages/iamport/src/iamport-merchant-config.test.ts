import { mkdir, mkdtemp, realpath, rename, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createMerchantRegistry, type MerchantReloadResult } from '@x/core';
import { loadMerchantConfig, watchMerchantConfig } from '@x/core/node';
import { createCanary } from '@x/core/testing';
import { createManualClock } from '@x/test-support/clock';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createIamportProvider } from './iamport-token-provider.js';
import { createIamportEmulator, type IamportEmulator } from './testing/index.js';

const minute = 60_000;
let emulator: IamportEmulator | undefined;
const closing: Array<() => Promise<void>> = [];
afterEach(async () => {
  await Promise.all(closing.splice(0).map((close) => close()));
  await emulator?.close();
});

/** Writes a secret as a secret manager's agent does: a new file renamed over the old one. */
async function rotateFile(file: string, secret: string): Promise<void> {
  await writeFile(`${file}.tmp`, `${secret}\n`);
  await rename(`${file}.tmp`, file);
}

describe("loadMerchantConfig and watchMerchantConfig on the i'mport emulator", () => {
  it('should pick up a rotated secret file on the rejection, then through the watcher before any rejection', async () => {
    const clock = createManualClock(Date.UTC(2026, 10, 30));
    emulator = await createIamportEmulator({ now: clock.now, tokenFormat: 'canary' });
    const { impKey, impSecret: firstSecret } = emulator.defaultMerchant;
    const directory = await realpath(await mkdtemp(join(tmpdir(), 'x-iamport-config-')));
    const secretFile = join(directory, 'secrets', 'shop-kr');
    await mkdir(join(directory, 'secrets'));
    await writeFile(secretFile, `${firstSecret}\n`);
    const configFile = join(directory, 'merchants.json');
    await writeFile(
      configFile,
      JSON.stringify({
        merchants: {
          'shop-kr': { provider: 'iamport', impKey, impSecret: { $file: 'secrets/shop-kr' }, baseUrl: { $env: 'IAMPORT_URL' } },
        },
      }),
    );
    const env = { IAMPORT_URL: emulator.url };
    const registry = createMerchantRegistry({
      providers: { iamport: createIamportProvider },
      clock,
      // Longer than the test: only a rejection, or the watcher, can bring the new secret.
      merchantTtlMs: 120 * minute,
      ...(await loadMerchantConfig(configFile, { env })),
    });
    closing.push(() => registry.close());
    const shop = registry.fetch('shop-kr');
    expect((await shop('/payments/imp_448280090638')).status).toBe(200);

    // Rotated with no watcher: the file changes, the old secret is revoked, and the next token request is refused
    // once; the registry reads the file again through resolveMerchant and the calls go on.
    const secondSecret = createCanary('rotated-', 40);
    emulator.addSecret(impKey, secondSecret);
    await rotateFile(secretFile, secondSecret);
    emulator.revokeSecret(impKey, firstSecret);
    clock.advance(31 * minute);
    const statuses = await Promise.all(Array.from({ length: 5 }, () => shop('/payments/imp_448280090638').then((r) => r.status)));
    expect(statuses).toEqual([200, 200, 200, 200, 200]);
    expect(emulator.secretCountersFor(impKey)).toMatchObject([
      { index: 0, revoked: true, tokenRequests: 2, revokedTokenRequests: 1 },
      { index: 1, revoked: false, tokenRequests: 1, revokedTokenRequests: 0 },
    ]);

    // Rotated with a watcher: the registry has the new secret before the old one is revoked, so none is refused.
    const reloads: MerchantReloadResult[] = [];
    const errors: Error[] = [];
    const watcher = await watchMerchantConfig(configFile, registry, {
      env,
      debounceMs: 20,
      onReload: (result) => reloads.push(result),
      onError: (error) => errors.push(error),
    });
    closing.unshift(() => watcher.close());
    expect(reloads).toEqual([{ added: [], changed: [], removed: [], unchanged: ['shop-kr'] }]);
    const thirdSecret = createCanary('rotated-', 40);
    emulator.addSecret(impKey, thirdSecret);
    await rotateFile(secretFile, thirdSecret);
    await vi.waitFor(() => expect(reloads.at(-1)?.changed).toEqual(['shop-kr']), { timeout: 2_000, interval: 10 });
    emulator.revokeSecret(impKey, secondSecret);
    expect((await shop('/payments/imp_448280090638')).status).toBe(200);
    expect(emulator.secretCountersFor(impKey)).toMatchObject([
      { index: 0, tokenRequests: 2, revokedTokenRequests: 1 },
      { index: 1, revoked: true, tokenRequests: 1, revokedTokenRequests: 0 },
      { index: 2, revoked: false, tokenRequests: 1, revokedTokenRequests: 0 },
    ]);
    expect(errors).toEqual([]);
  });
});
