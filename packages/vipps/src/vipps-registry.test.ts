import { createMerchantRegistry } from '@x/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createVippsProvider } from './index.js';
import { createVippsEmulator, type VippsEmulator, vippsEmulatorDefaultMerchant } from './testing/index.js';

let emulator: VippsEmulator;

beforeEach(async () => {
  emulator = await createVippsEmulator();
});

afterEach(async () => {
  await emulator.close();
});

describe('createMerchantRegistry with Vipps merchants', () => {
  it('should send each merchant its own Vipps-System-* headers over the token of the credentials and MSN they share', async () => {
    const shared = { provider: 'vipps', ...vippsEmulatorDefaultMerchant, baseUrl: emulator.url };
    const registry = createMerchantRegistry({
      providers: { vipps: createVippsProvider },
      merchants: {
        'web-shop': { ...shared, systemName: 'web-shop', pluginName: 'woocommerce' },
        'pos-app': { ...shared, systemName: 'pos-app', systemVersion: '2.0.0' },
      },
    });

    const web = await registry.fetch('web-shop')('/epayment/v1/payments/order-1');
    const pos = await registry.fetch('pos-app')('/epayment/v1/payments/order-2');

    expect([web.status, pos.status]).toEqual([200, 200]);
    const [first, second] = emulator.seen('payments').map((seen) => seen.headers);
    expect(first).toMatchObject({ 'vipps-system-name': 'web-shop', 'vipps-system-plugin-name': 'woocommerce' });
    expect(first?.['vipps-system-version']).toBeUndefined();
    expect(second).toMatchObject({ 'vipps-system-name': 'pos-app', 'vipps-system-version': '2.0.0' });
    expect(second?.['vipps-system-plugin-name']).toBeUndefined();
    // Only the token is shared.
    expect(first?.authorization).toBe(second?.authorization);
    expect(emulator.counters.tokenRequests).toBe(1);
    expect(registry.tokens('web-shop')).toBe(registry.tokens('pos-app'));
    expect(registry.provider('pos-app').apiHeaders).toMatchObject({ 'Vipps-System-Name': 'pos-app' });
  });
});
