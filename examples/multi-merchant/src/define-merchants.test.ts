/**
 * `defineMerchants` with the real gateway factories: their settings types come from `@x/iamport` and `@x/vipps`,
 * which `@x/core` cannot depend on, so this check lives in an example that has both. The `@ts-expect-error` lines
 * and `expectTypeOf` assertions fail `pnpm typecheck`; the registry then calls both emulators with the typed entries.
 */
import { createMerchantRegistry, defineMerchants, type MerchantSettingsFor } from '@x/core';
import { createIamportProvider, type IamportProviderSettings } from '@x/iamport';
import { createIamportEmulator } from '@x/iamport/testing';
import { createVippsProvider, type VippsProviderSettings } from '@x/vipps';
import { createVippsEmulator, vippsEmulatorDefaultMerchant } from '@x/vipps/testing';
import { describe, expect, expectTypeOf, it } from 'vitest';

const providers = { iamport: createIamportProvider, vipps: createVippsProvider };
type Entry = MerchantSettingsFor<typeof providers>;

describe("defineMerchants with the i'mport and Vipps factories", () => {
  it("should type each merchant's settings by its gateway's factory", () => {
    expectTypeOf<Entry['provider']>().toEqualTypeOf<'iamport' | 'vipps'>();
    expectTypeOf<Omit<Extract<Entry, { provider: 'iamport' }>, 'provider' | 'policy'>>().toEqualTypeOf<
      Omit<IamportProviderSettings, never>
    >();
    expectTypeOf<Omit<Extract<Entry, { provider: 'vipps' }>, 'provider' | 'policy'>>().toEqualTypeOf<Omit<VippsProviderSettings, never>>();

    defineMerchants(providers, {
      // @ts-expect-error `impSecert` is a typo of i'mport's `impSecret` (which is then missing)
      'shop-kr': { provider: 'iamport', impKey: 'imp_apikey', impSecert: 'secret' },
    });
    defineMerchants(providers, {
      // @ts-expect-error i'mport requires `impSecret`
      'shop-kr': { provider: 'iamport', impKey: 'imp_apikey' },
    });
    defineMerchants(providers, {
      // @ts-expect-error there is no provider `import`
      'shop-kr': { provider: 'import', impKey: 'imp_apikey', impSecret: 'secret' },
    });
    defineMerchants(providers, {
      // @ts-expect-error `clientSecret` is Vipps', not i'mport's
      'shop-kr': { provider: 'iamport', impKey: 'imp_apikey', impSecret: 'secret', clientSecret: 'secret' },
    });
    defineMerchants(providers, {
      // @ts-expect-error Vipps' `environment` is 'test' or 'production'
      'shop-no': { provider: 'vipps', clientId: 'id', clientSecret: 'secret', environment: 'staging' },
    });
  });

  it('should hand the typed merchants to createMerchantRegistry, which calls each gateway', async () => {
    const iamport = await createIamportEmulator({ tokenFormat: 'canary' });
    const vipps = await createVippsEmulator();
    try {
      const merchants = defineMerchants(providers, {
        'shop-kr': { provider: 'iamport', ...iamport.defaultMerchant, baseUrl: iamport.url },
        'shop-no': {
          provider: 'vipps',
          ...vippsEmulatorDefaultMerchant,
          baseUrl: vipps.url,
          systemName: 'acme-shop',
          policy: { refreshAheadMs: 120_000 },
        },
      });
      const registry = createMerchantRegistry({ providers, merchants });

      const korea = await registry.fetch('shop-kr')('/payments/imp_448280090638');
      const norway = await registry.fetch('shop-no')('/epayment/v1/payments/order-1');

      expect([korea.status, norway.status]).toEqual([200, 200]);
      expect([iamport.counters.tokenRequests, vipps.counters.tokenRequests]).toEqual([1, 1]);
    } finally {
      await Promise.all([iamport.close(), vipps.close()]);
    }
  });
});
