/**
 * The demo's merchants written in TypeScript instead of merchants.json: `defineMerchants` types each entry by its
 * gateway's factory, so a misspelt setting (`impSecert`), a missing one or an unknown provider is a compile error in
 * your editor instead of a `ConfigurationError` at start. The policy meant for Vipps goes to Vipps alone
 * (`policies`). Runs against the local emulators; with real credentials, drop them and the `baseUrl`s.
 */
import { randomBytes } from 'node:crypto';
import { createMerchantRegistry, defineMerchants, type MerchantRegistry } from '@x/core';
import { createIamportProvider } from '@x/iamport';
import { createIamportEmulator } from '@x/iamport/testing';
import { createVippsProvider } from '@x/vipps';
import { createVippsEmulator, vippsEmulatorDefaultMerchant } from '@x/vipps/testing';

/** The gateways the shop uses, by the name each merchant's `provider` gives. */
export const providers = { iamport: createIamportProvider, vipps: createVippsProvider };

/** Where the secrets and the gateways' URLs come from: the environment, a secret manager, … */
export interface ShopEnvironment {
  SHOP_SEOUL_IMP_SECRET: string;
  SHOP_BUSAN_IMP_SECRET: string;
  SHOP_OSLO_CLIENT_SECRET: string;
  SHOP_OSLO_SUBSCRIPTION_KEY: string;
  IAMPORT_BASE_URL: string;
  VIPPS_BASE_URL: string;
}

/** The shop's registry: the three merchants of merchants.json, typed, and a refresh window for Vipps alone. */
export function createShopRegistry(env: ShopEnvironment): MerchantRegistry {
  const merchants = defineMerchants(providers, {
    'shop-seoul': { provider: 'iamport', impKey: 'imp_seoul_key', impSecret: env.SHOP_SEOUL_IMP_SECRET, baseUrl: env.IAMPORT_BASE_URL },
    'shop-busan': { provider: 'iamport', impKey: 'imp_busan_key', impSecret: env.SHOP_BUSAN_IMP_SECRET, baseUrl: env.IAMPORT_BASE_URL },
    'shop-oslo': {
      provider: 'vipps',
      clientId: vippsEmulatorDefaultMerchant.clientId,
      clientSecret: env.SHOP_OSLO_CLIENT_SECRET,
      subscriptionKey: env.SHOP_OSLO_SUBSCRIPTION_KEY,
      merchantSerialNumber: '123456',
      systemName: 'acme-shop',
      baseUrl: env.VIPPS_BASE_URL,
    },
  });
  // i'mport merchants keep their own tuning: a refresh before i'mport's last minute only gets the same token back.
  return createMerchantRegistry({ providers, merchants, policies: { vipps: { refreshAheadMs: 600_000 } } });
}

/** Runs the example, printing through `log`: one call per merchant, and the token requests each gateway received. */
export async function runMerchantsInCode(log: (line: string) => void = console.log): Promise<void> {
  // Made up per run, as in the demo; the `xcanary` mark lets the repository's leak tests find one that is printed.
  const secrets = {
    SHOP_SEOUL_IMP_SECRET: `xcanary${randomBytes(24).toString('base64url')}`,
    SHOP_BUSAN_IMP_SECRET: `xcanary${randomBytes(24).toString('base64url')}`,
    SHOP_OSLO_CLIENT_SECRET: `xcanary${randomBytes(16).toString('base64')}`,
    SHOP_OSLO_SUBSCRIPTION_KEY: `xcanary${randomBytes(16).toString('hex')}`,
  };
  const iamport = await createIamportEmulator({
    merchants: [
      { impKey: 'imp_seoul_key', impSecret: secrets.SHOP_SEOUL_IMP_SECRET },
      { impKey: 'imp_busan_key', impSecret: secrets.SHOP_BUSAN_IMP_SECRET },
    ],
    // Tokens marked `xcanary` too.
    tokenFormat: 'canary',
  });
  const vipps = await createVippsEmulator({
    merchants: [
      {
        clientId: vippsEmulatorDefaultMerchant.clientId,
        clientSecret: secrets.SHOP_OSLO_CLIENT_SECRET,
        subscriptionKey: secrets.SHOP_OSLO_SUBSCRIPTION_KEY,
        merchantSerialNumber: '123456',
      },
    ],
  });
  const registry = createShopRegistry({ ...secrets, IAMPORT_BASE_URL: iamport.url, VIPPS_BASE_URL: vipps.url });
  try {
    for (const [merchant, path] of [
      ['shop-seoul', '/payments/imp_448280090638'],
      ['shop-busan', '/payments/imp_448280090639'],
      ['shop-oslo', '/epayment/v1/payments/order-1'],
    ] as const) {
      const response = await registry.fetch(merchant)(path);
      await response.arrayBuffer();
      log(`${merchant} GET ${path} -> ${response.status}`);
    }
    log(`token requests: iamport ${iamport.counters.tokenRequests}, vipps ${vipps.counters.tokenRequests}`);
  } finally {
    await registry.close();
    await Promise.all([iamport.close(), vipps.close()]);
  }
}
