/**
 * Figure 5: a registry of 100,000 i'mport merchants read from a JSON configuration, 10,000 of them used once (one
 * token each, distinct credentials, from the emulator). Reports creation time and the heap each used merchant keeps.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createMerchantRegistry, type MerchantSettings } from '@x/core';
import { loadMerchantConfig } from '@x/core/node';
import { createIamportProvider, validateIamportSettings } from '@x/iamport';
import { benchCredentials, emulatorMerchantCount } from './bench-credentials.js';
import { collectGarbage } from './collect-garbage.js';

export interface ManyMerchantsResult {
  merchants: number;
  used: number;
  /** Reading and resolving the JSON configuration, milliseconds. */
  loadConfigMs: number;
  /** `createMerchantRegistry` (validates every merchant's settings), milliseconds. */
  createRegistryMs: number;
  /** Fetching one token for each used merchant, milliseconds. */
  useMs: number;
  /** Heap after GC once the registry exists, before any merchant is used, bytes. */
  heapAfterCreateBytes: number;
  /** (Heap after GC once the merchants are used − heap before) ÷ used merchants, bytes. */
  retainedBytesPerUsedMerchant: number;
}

const concurrency = 64;

/** Runs in `many-merchants-process.ts`, on the built packages: see there. */
export async function measureManyMerchants(emulatorUrl: string, merchantCount: number): Promise<ManyMerchantsResult> {
  const used = Math.min(emulatorMerchantCount, merchantCount / 10);
  const merchants: Record<string, MerchantSettings> = {};
  for (let index = 0; index < merchantCount; index += 1) {
    // The first `used` merchants hold credentials the emulator accepts; every merchant's credentials differ, so no
    // two share a cache.
    const credentials = index < used ? benchCredentials(index) : { impKey: `unused_key_${index}`, impSecret: `unused-secret-${index}` };
    merchants[`merchant-${String(index).padStart(6, '0')}`] = { provider: 'iamport', ...credentials, baseUrl: emulatorUrl };
  }
  const directory = await mkdtemp(join(tmpdir(), 'x-bench-'));
  const path = join(directory, 'merchants.json');
  await writeFile(path, JSON.stringify({ merchants }));

  let started = performance.now();
  const config = await loadMerchantConfig(path);
  const loadConfigMs = performance.now() - started;
  started = performance.now();
  const registry = createMerchantRegistry({
    providers: {
      iamport: Object.assign((settings: Parameters<typeof createIamportProvider>[0]) => createIamportProvider(settings), {
        validateSettings: validateIamportSettings,
      }),
    },
    merchants: config.merchants,
  });
  const createRegistryMs = performance.now() - started;
  await rm(directory, { recursive: true, force: true });

  const ids = registry.merchants().slice(0, used);
  const heapAfterCreateBytes = await collectGarbage('many merchants');
  started = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < ids.length) {
        const id = ids[next]!;
        next += 1;
        await registry.tokens(id).getToken();
      }
    }),
  );
  const useMs = performance.now() - started;
  const heapAfterUseBytes = await collectGarbage('many merchants');
  // Keeps the registry reachable until the heap has been measured.
  if (!registry.has(ids[0]!)) throw new Error('many merchants: registry lost a merchant');
  return {
    merchants: merchantCount,
    used,
    loadConfigMs,
    createRegistryMs,
    useMs,
    heapAfterCreateBytes,
    retainedBytesPerUsedMerchant: (heapAfterUseBytes - heapAfterCreateBytes) / used,
  };
}
