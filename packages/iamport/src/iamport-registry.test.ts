import { createMerchantRegistry, isUnknownMerchantError, type MerchantSettings } from '@x/core';
import { createCanary } from '@x/core/testing';
import { createManualClock } from '@x/test-support/clock';
import { afterEach, describe, expect, it } from 'vitest';
import { createIamportProvider } from './iamport-token-provider.js';
import { createIamportEmulator, type IamportEmulator } from './testing/index.js';

const minute = 60_000;
let emulator: IamportEmulator | undefined;
afterEach(async () => {
  await emulator?.close();
});

describe("createMerchantRegistry on the i'mport emulator", () => {
  it('should rotate a secret held in a database with no call lost, the revoked secret tried once', async () => {
    const clock = createManualClock(Date.UTC(2026, 10, 30));
    emulator = await createIamportEmulator({ now: clock.now, tokenFormat: 'canary' });
    const { impKey, impSecret: oldSecret } = emulator.defaultMerchant;
    const rows: Record<string, MerchantSettings> = {
      'shop-kr': { provider: 'iamport', impKey, impSecret: oldSecret, baseUrl: emulator.url },
    };
    const asked: string[] = [];
    const registry = createMerchantRegistry({
      providers: { iamport: createIamportProvider },
      clock,
      // Longer than the rotation takes: the rejection, not the age of the settings, makes the registry ask again.
      merchantTtlMs: 120 * minute,
      resolveMerchant: async (merchantId) => {
        asked.push(merchantId);
        return rows[merchantId];
      },
    });
    const shop = registry.fetch('shop-kr');
    expect((await shop('/payments/imp_448280090638')).status).toBe(200);

    // The rotation: the gateway takes the new secret beside the old, the database gets it, the old one is revoked.
    const newSecret = createCanary('rotated-', 40);
    emulator.addSecret(impKey, newSecret);
    rows['shop-kr'] = { ...rows['shop-kr']!, impSecret: newSecret };
    emulator.revokeSecret(impKey, oldSecret);
    clock.advance(31 * minute);

    const statuses = await Promise.all(Array.from({ length: 5 }, () => shop('/payments/imp_448280090638').then((r) => r.status)));
    expect(statuses).toEqual([200, 200, 200, 200, 200]);
    expect(emulator.secretCountersFor(impKey)).toMatchObject([
      { index: 0, revoked: true, tokenRequests: 2, revokedTokenRequests: 1 },
      { index: 1, revoked: false, tokenRequests: 1, revokedTokenRequests: 0 },
    ]);
    expect(asked).toEqual(['shop-kr', 'shop-kr']);

    // Offboarding: the merchant is removed, and the fetch handed out before is refused without reaching the gateway.
    const callsBefore = emulator.counters.apiCalls;
    await registry.remove('shop-kr');
    await expect(shop('/payments/imp_448280090638')).rejects.toSatisfy(isUnknownMerchantError);
    expect(emulator.counters.apiCalls).toBe(callsBefore);
    await registry.close();
  });

  it('should move to a rotated secret within merchantTtlMs, before the old one is revoked', async () => {
    const clock = createManualClock(Date.UTC(2026, 10, 30));
    emulator = await createIamportEmulator({ now: clock.now, tokenFormat: 'canary' });
    const { impKey, impSecret: oldSecret } = emulator.defaultMerchant;
    let row: MerchantSettings = { provider: 'iamport', impKey, impSecret: oldSecret, baseUrl: emulator.url };
    const registry = createMerchantRegistry({
      providers: { iamport: createIamportProvider },
      clock,
      merchantTtlMs: minute,
      resolveMerchant: async () => row,
    });
    const shop = registry.fetch('shop-kr');
    await shop('/payments/imp_448280090638');
    const newSecret = createCanary('rotated-', 40);
    emulator.addSecret(impKey, newSecret);
    row = { ...row, impSecret: newSecret };
    clock.advance(2 * minute);
    // Served on the settings in hand while the database is asked again; the next call is on the new secret.
    await shop('/payments/imp_448280090638');
    await shop('/payments/imp_448280090638');
    emulator.revokeSecret(impKey, oldSecret);
    expect((await shop('/payments/imp_448280090638')).status).toBe(200);
    expect(emulator.secretCountersFor(impKey)).toMatchObject([
      { index: 0, tokenRequests: 1, revokedTokenRequests: 0 },
      { index: 1, tokenRequests: 1, revokedTokenRequests: 0 },
    ]);
    await registry.close();
  });
});
